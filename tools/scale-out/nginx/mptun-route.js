// nginx njs (stream) handler for the server-id routing of docs/scale-out.md §3: reads the
// route field of the first datagram of each UDP flow (a path's first datagram, the path
// session's initiation) and names the upstream pool in $mptun_route. A datagram without a
// valid id, or with another configuration's rotation, leaves the default: the hash pool.
//
//   byte 0 type | byte 1 bits 7..5 config rotation, bits 4..0 zero | bytes 2..3 server id

var ROTATION = 1; // the configuration this balancer serves ids under

function route(s) {
    s.on('upload', function (data, flags) {
        // A byte string or a Buffer, depending on the njs version.
        var at = typeof data === 'string'
            ? function (i) { return data.charCodeAt(i); }
            : function (i) { return data[i]; };
        if (data.length >= 4 && (at(1) >> 5) === ROTATION && (at(1) & 0x1f) === 0) {
            s.variables.mptun_route = 'mptun_s' + ((at(2) << 8) | at(3));
        }
        s.done();
    });
}

export default { route };
