// Certificates for a throw-away control plane: one CA that signs the serving
// certificate (localhost, 127.0.0.1) and the client certificates, a front-proxy
// CA for the aggregation layer, and serving certificates for aggregated API
// servers. Node cannot mint X.509 certificates, so the openssl command line
// does the signing.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
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
  /** The request-header CA (`--requestheader-client-ca-file`): it signs the front-proxy client. */
  frontProxyCa: CertificateAuthority;
  /** kube-apiserver's client certificate towards aggregated API servers (CN front-proxy-client). */
  frontProxyClient: KeyPair;
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

/** A certificate authority: its certificate and private key (PEM files). */
export interface CertificateAuthority {
  cert: string;
  key: string;
}

/** A certificate and its private key (PEM files). */
export interface KeyPair {
  cert: string;
  key: string;
}

/** Creates a self-signed CA named `<name>.crt` / `<name>.key` in dir. */
export async function createCa(
  dir: string,
  name: string,
  commonName: string,
  days = 7,
): Promise<CertificateAuthority> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
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
      key,
      '-out',
      cert,
      '-days',
      String(days),
      '-sha256',
      '-subj',
      subject([['CN', commonName]]),
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    dir,
  );
  return { cert, key };
}

export interface LeafRequest {
  commonName: string;
  /** Subject O= fields (Kubernetes groups of a client certificate). */
  organizations?: string[];
  /** serverAuth or clientAuth. */
  usage: 'server' | 'client';
  dnsNames?: string[];
  ipAddresses?: string[];
}

/** Issues `<name>.crt` / `<name>.key` in dir, signed by ca. */
export async function issueCertificate(
  dir: string,
  ca: CertificateAuthority,
  name: string,
  request: LeafRequest,
  days = 7,
): Promise<KeyPair> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  const altNames = [
    ...(request.dnsNames ?? []).map((d) => `DNS:${d}`),
    ...(request.ipAddresses ?? []).map((ip) => `IP:${ip}`),
  ];
  await writeFile(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${request.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
      ...(altNames.length > 0 ? [`subjectAltName=${altNames.join(',')}`] : []),
      '',
    ].join('\n'),
  );
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
      subject([
        ['CN', request.commonName],
        ...(request.organizations ?? []).map((o): [string, string] => ['O', o]),
      ]),
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
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
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

/** The serving certificate of an aggregated API server and the CA for its APIService's caBundle. */
export interface ServingCertificate extends KeyPair {
  /** The CA that signed it: its PEM file. */
  caCert: string;
  /** The CA certificate base64-encoded, as APIService `spec.caBundle` wants it. */
  caBundle: string;
  dnsNames: string[];
}

/**
 * Issues a serving certificate for Service `<service>.<namespace>.svc` (the name
 * kube-apiserver's aggregator verifies) plus localhost and 127.0.0.1, signed by a new CA.
 */
export async function issueServingCertificate(
  dir: string,
  service: { name: string; namespace: string },
  days = 7,
): Promise<ServingCertificate> {
  const ca = await createCa(dir, 'serving-ca', `${service.name}-serving-ca`, days);
  const svc = `${service.name}.${service.namespace}.svc`;
  const dnsNames = [svc, `${svc}.cluster.local`, 'localhost'];
  const pair = await issueCertificate(
    dir,
    ca,
    'serving',
    { commonName: svc, usage: 'server', dnsNames, ipAddresses: ['127.0.0.1'] },
    days,
  );
  return {
    ...pair,
    caCert: ca.cert,
    caBundle: (await readFile(ca.cert)).toString('base64'),
    dnsNames,
  };
}

/** The name kube-apiserver's front-proxy client certificate carries (as kubeadm names it). */
export const frontProxyClientName = 'front-proxy-client';

/**
 * Creates the control plane's CA, the serving certificate, one client certificate per identity,
 * and, for the aggregation layer, a separate front-proxy CA with kube-apiserver's
 * front-proxy client certificate (as kubeadm lays them out).
 */
export async function createPki(
  dir: string,
  clients: Record<string, ClientIdentity>,
  days = 7,
  /** More names for the serving certificate (a node's pods reach it at the Service IP). */
  servingNames: { dnsNames?: string[]; ipAddresses?: string[] } = {},
): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa(dir, 'ca', 'kube-inspector-control-plane-ca', days);
  const serving = await issueCertificate(
    dir,
    ca,
    'serving',
    {
      commonName: 'localhost',
      usage: 'server',
      dnsNames: ['localhost', ...(servingNames.dnsNames ?? [])],
      ipAddresses: ['127.0.0.1', ...(servingNames.ipAddresses ?? [])],
    },
    days,
  );
  const issued: Pki['clients'] = {};
  for (const [name, id] of Object.entries(clients)) {
    issued[name] = await issueCertificate(
      dir,
      ca,
      `client-${name}`,
      { commonName: id.user, organizations: id.groups, usage: 'client' },
      days,
    );
  }
  const frontProxyCa = await createCa(dir, 'front-proxy-ca', 'front-proxy-ca', days);
  const frontProxyClient = await issueCertificate(
    dir,
    frontProxyCa,
    frontProxyClientName,
    { commonName: frontProxyClientName, usage: 'client' },
    days,
  );

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serviceAccountKey = join(dir, 'service-account.key');
  const serviceAccountPublicKey = join(dir, 'service-account.pub');
  await writeFile(serviceAccountKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  await writeFile(serviceAccountPublicKey, publicKey.export({ type: 'spki', format: 'pem' }));

  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    servingCert: serving.cert,
    servingKey: serving.key,
    serviceAccountKey,
    serviceAccountPublicKey,
    clients: issued,
    frontProxyCa,
    frontProxyClient,
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
