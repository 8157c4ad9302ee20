#!/usr/bin/env node
// mptun-client: the build, or the sources in a checkout that has not been built.
import { launch } from '@mptun/tunnel-common/launch';

await launch('mptun-client', import.meta.url, 'main');
