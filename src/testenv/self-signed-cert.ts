// Throw-away X.509 certificates for tests: a self-signed P-256 certificate for 127.0.0.1, made with the
// openssl CLI (node:crypto signs but cannot issue certificates). Used as the registry's TLS certificate and
// as the token server's JWT signing certificate, which the registry trusts through `rootcertbundle`.

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const OPENSSL_BINARY = "/usr/bin/openssl";

export interface SelfSignedCert {
  /** PEM file of the certificate (also usable as its own CA bundle). */
  certPath: string;
  /** PEM file of the PKCS#8 private key. */
  keyPath: string;
  certPem: string;
  keyPem: string;
}

/**
 * Writes `<dir>/<name>.crt` and `<dir>/<name>.key`: a CA-capable self-signed certificate valid for a day,
 * with subjectAltName IP:127.0.0.1 and DNS:localhost (Go and Node both ignore the CN for host checks).
 */
export async function makeSelfSignedCert(dir: string, name: string): Promise<SelfSignedCert> {
  const certPath = path.join(dir, `${name}.crt`);
  const keyPath = path.join(dir, `${name}.key`);
  const args = [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=berth-test-${name}`,
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-keyout",
    keyPath,
    "-out",
    certPath,
  ];
  try {
    await execFileAsync(OPENSSL_BINARY, args, { timeout: 30000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl req for ${name} failed: ${e.stderr?.trim() || e.message}`);
  }
  return {
    certPath,
    keyPath,
    certPem: await readFile(certPath, "utf8"),
    keyPem: await readFile(keyPath, "utf8"),
  };
}
