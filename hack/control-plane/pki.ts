// Certificates for a throw-away control plane: one CA that signs the serving
// certificate (localhost, 127.0.0.1) and the client certificates. Node cannot
// mint X.509 certificates, so the openssl command line does the signing.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ClientIdentity {
  user: string;
  groups: string[];
}

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  /** Private key that signs service-account tokens (its public half verifies them). */
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
  clients: Record<string, { cert: string; key: string }>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        'openssl is not installed (Debian package "openssl"); it signs the control plane certificates',
        { cause: err },
      );
    }
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Subject names are passed to openssl's -subj, where "/" and "=" separate fields. */
function subject(fields: [string, string][]): string {
  return fields
    .map(([k, v]) => {
      if (/[/=+,\\]/.test(v)) throw new Error(`unsupported character in certificate name "${v}"`);
      return `/${k}=${v}`;
    })
    .join('');
}

async function signLeaf(
  dir: string,
  name: string,
  subj: string,
  extensions: string,
  days: number,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(
    [
      'req',
      '-new',
      '-nodes',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      subj,
    ],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      String(days),
      '-sha256',
      '-extfile',
      ext,
      '-out',
      cert,
    ],
    dir,
  );
  return { cert, key };
}

/** Creates the CA, the serving certificate and one client certificate per identity. */
export async function createPki(
  dir: string,
  clients: Record<string, ClientIdentity>,
  days = 7,
): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-nodes',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      String(days),
      '-sha256',
      '-subj',
      subject([['CN', 'kube-inspector-control-plane-ca']]),
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    dir,
  );
  const serving = await signLeaf(
    dir,
    'serving',
    subject([['CN', 'localhost']]),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '',
    ].join('\n'),
    days,
  );
  const issued: Pki['clients'] = {};
  for (const [name, id] of Object.entries(clients)) {
    issued[name] = await signLeaf(
      dir,
      `client-${name}`,
      subject([['CN', id.user], ...id.groups.map((g): [string, string] => ['O', g])]),
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=clientAuth',
        '',
      ].join('\n'),
      days,
    );
  }

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serviceAccountKey = join(dir, 'service-account.key');
  const serviceAccountPublicKey = join(dir, 'service-account.pub');
  await writeFile(serviceAccountKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  await writeFile(serviceAccountPublicKey, publicKey.export({ type: 'spki', format: 'pem' }));

  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    servingCert: serving.cert,
    servingKey: serving.key,
    serviceAccountKey,
    serviceAccountPublicKey,
    clients: issued,
  };
}

/** A kubeconfig with the certificates embedded, so the file can be copied anywhere. */
export async function kubeconfigFor(
  pki: Pki,
  client: string,
  server: string,
  name = 'kube-inspector',
): Promise<string> {
  const identity = pki.clients[client];
  if (identity === undefined) throw new Error(`no client certificate "${client}"`);
  const b64 = async (path: string): Promise<string> => (await readFile(path)).toString('base64');
  // JSON is valid YAML; kubectl and client-node read it as a kubeconfig.
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name, cluster: { server, 'certificate-authority-data': await b64(pki.caCert) } },
      ],
      users: [
        {
          name: `${name}-${client}`,
          user: {
            'client-certificate-data': await b64(identity.cert),
            'client-key-data': await b64(identity.key),
          },
        },
      ],
      contexts: [{ name, context: { cluster: name, user: `${name}-${client}` } }],
      'current-context': name,
    },
    null,
    2,
  )}\n`;
}
