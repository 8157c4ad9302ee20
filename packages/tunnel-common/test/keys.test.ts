import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { KeyFileError, keyFileModeWarning, readAuthorizedKeysFile, readPrivateKeyFile, writePrivateKeyFile } from '../src/keys.js';

describe('key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mptun-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a private key with mode 0600 and reads the same key pair back', async () => {
    const crypto = await loadCrypto();
    const kp = generateKeypair(crypto);
    const file = join(dir, 'server.key');
    writePrivateKeyFile(file, kp);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const back = readPrivateKeyFile(crypto, file);
    expect(encodeKey(back.publicKey)).toBe(encodeKey(kp.publicKey));
    expect(() => writePrivateKeyFile(file, kp)).toThrow(expect.objectContaining({ code: 'ERR_MPTUN_KEY_FILE_EXISTS' }));
    writePrivateKeyFile(file, generateKeypair(crypto), { overwrite: true });
    expect(encodeKey(readPrivateKeyFile(crypto, file).publicKey)).not.toBe(encodeKey(kp.publicKey));
  });

  it('rejects a bad private key file with a typed error naming the file', async () => {
    const crypto = await loadCrypto();
    const file = join(dir, 'bad.key');
    writeFileSync(file, 'not-a-key\n');
    let e: unknown;
    try {
      readPrivateKeyFile(crypto, file);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(KeyFileError);
    expect((e as KeyFileError).message).toContain(file);
    expect((e as KeyFileError).message).toContain('line 1');
    expect(() => readPrivateKeyFile(crypto, join(dir, 'missing.key'))).toThrow(KeyFileError);
  });

  it('reads authorized keys with comments and blank lines; a bad line is named', async () => {
    const crypto = await loadCrypto();
    const a = encodeKey(generateKeypair(crypto).publicKey);
    const b = encodeKey(generateKeypair(crypto).publicKey);
    const file = join(dir, 'authorized');
    writeFileSync(file, `# laptop\n${a}\n\n   ${b}   # phone\n`);
    expect(readAuthorizedKeysFile(file)).toEqual([a, b]);
    writeFileSync(file, `${a}\nAAAA\n`);
    expect(() => readAuthorizedKeysFile(file)).toThrow(/line 2/);
  });

  it('overwriting a 0644 file leaves it 0600, and a readable key file is named with the fix', async () => {
    const crypto = await loadCrypto();
    const file = join(dir, 'loose.key');
    writeFileSync(file, 'old\n');
    chmodSync(file, 0o644);
    expect(keyFileModeWarning(file)).toBe(`private key file ${file} is readable by everyone (mode 0644); run: chmod 600 ${file}`);
    chmodSync(file, 0o640);
    expect(keyFileModeWarning(file)).toContain('readable by its group (mode 0640)');
    writePrivateKeyFile(file, generateKeypair(crypto), { overwrite: true });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(keyFileModeWarning(file)).toBeNull();
  });

  it('an authorized-keys line may carry a comment after the key, as in ssh', async () => {
    const crypto = await loadCrypto();
    const a = encodeKey(generateKeypair(crypto).publicKey);
    const b = encodeKey(generateKeypair(crypto).publicKey);
    const file = join(dir, 'commented');
    writeFileSync(file, `# team\n${a} alice@laptop\n${b}\tbob's phone # added in May\n`);
    expect(readAuthorizedKeysFile(file)).toEqual([a, b]);
  });
});
