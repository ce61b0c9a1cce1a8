/**
 * A private PKI made by openssl in a folder: a CA, a server certificate for 127.0.0.1/localhost, and client
 * certificates with the names asked for; EC P-256, valid one day.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  ca: string;
  server: { cert: string; key: string };
  /** Client certificate and key by common name. */
  clients: Record<string, { cert: string; key: string }>;
}

export function makePki(dir: string, clientNames: readonly string[], caName = 'Fido test CA'): Pki {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', `/CN=${caName}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const issue = (name: string, cn: string, ext: string) => {
    run(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
    return { cert: read(`${name}.crt`), key: read(`${name}.key`) };
  };
  const server = issue('server', 'localhost', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const clients: Pki['clients'] = {};
  clientNames.forEach((cn, i) => {
    clients[cn] = issue(`client${i}`, cn, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  });
  return { ca: read('ca.crt'), server, clients };
}
