/**
 * TLS and SASL for the Kafka connectors, configured with the Kafka client's own property names
 * (as Flink passes them through, `properties.security.protocol` etc. in SQL): one parser, and one
 * place that turns the result into the client's connection options, so every connection a
 * connector opens (metadata, the source's raw fetches, offsets, the sink's producers, the
 * exactly-once sink's transaction coordinator requests) authenticates the same way.
 *
 * Supported: security.protocol PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL; sasl.mechanism PLAIN,
 * SCRAM-SHA-256, SCRAM-SHA-512 with the credentials in sasl.jaas.config (PlainLoginModule or
 * ScramLoginModule); trust and client certificates as PEM (Node's TLS reads PEM; a PKCS12
 * keystore is read too, a JKS one is refused with the command that converts it).
 */

import { readFileSync } from 'node:fs';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface KafkaSecurity {
  readonly protocol: SecurityProtocol;
  readonly sasl: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string } | null;
  /** Node TLS options (PEM text, not paths: read when the connector was built). */
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly pfx?: Uint8Array; readonly passphrase?: string; readonly verifyHostname: boolean } | null;
}

export const PLAINTEXT: KafkaSecurity = { protocol: 'PLAINTEXT', sasl: null, tls: null };

const PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
const MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** The Kafka client properties read here (anything else under security./sasl./ssl. is refused, not ignored). */
export const SECURITY_PROPERTIES = [
  'security.protocol',
  'sasl.mechanism',
  'sasl.jaas.config',
  'ssl.truststore.type',
  'ssl.truststore.location',
  'ssl.truststore.certificates',
  'ssl.truststore.password',
  'ssl.keystore.type',
  'ssl.keystore.location',
  'ssl.keystore.password',
  'ssl.keystore.key',
  'ssl.keystore.certificate.chain',
  'ssl.key.password',
  'ssl.endpoint.identification.algorithm',
] as const;

/** True for a property name this module owns (security.*, sasl.*, ssl.*). */
export function isSecurityProperty(name: string): boolean {
  return /^(security|sasl|ssl)\./.test(name);
}

/** The credentials of a `sasl.jaas.config`: `<LoginModule> required username="..." password="...";`. */
function jaas(text: string, mechanism: SaslMechanism, who: string): { username: string; password: string } {
  const m = /^\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\s+([\s\S]*?)\s*;?\s*$/.exec(text);
  const example = mechanism === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="secret";' : 'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="secret";';
  if (m === null) throw new TypeError(`${who}: 'sasl.jaas.config' is not a JAAS entry; write it as ${example}`);
  const module = m[1]!;
  const wanted = mechanism === 'PLAIN' ? 'PlainLoginModule' : 'ScramLoginModule';
  if (!module.endsWith(`.${wanted}`) && module !== wanted) {
    throw new TypeError(`${who}: 'sasl.mechanism' ${mechanism} takes its credentials from ${wanted} in 'sasl.jaas.config', got ${module}; write ${example}`);
  }
  const options = new Map<string, string>();
  const re = /([\w.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s";]+))/gy;
  const rest = m[3]!;
  let at = 0;
  for (;;) {
    while (at < rest.length && /\s/.test(rest[at]!)) at++;
    if (at >= rest.length) break;
    re.lastIndex = at;
    const o = re.exec(rest);
    if (o === null) throw new TypeError(`${who}: 'sasl.jaas.config' has an option that is not name="value" at "${rest.slice(at, at + 20)}"; write ${example}`);
    options.set(o[1]!, o[2] !== undefined ? o[2].replace(/\\(.)/g, '$1') : o[3]!);
    at = re.lastIndex;
  }
  const username = options.get('username');
  const password = options.get('password');
  if (username === undefined || password === undefined) throw new TypeError(`${who}: 'sasl.jaas.config' needs username="..." and password="..."; write ${example}`);
  return { username, password };
}

function readText(path: string, what: string, who: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${who}: cannot read ${what} '${path}' (${e instanceof Error ? e.message : String(e)}); check the path`, { cause: e });
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN (?:ENCRYPTED |RSA |EC )?PRIVATE KEY-----/;

/**
 * The connection security of Kafka client properties (keys as the Java client's, e.g.
 * `security.protocol`), checked, with every file read now. `who` names the connector in errors.
 */
export function parseSecurity(props: ReadonlyMap<string, string>, who: string): KafkaSecurity {
  for (const k of props.keys()) {
    if (!(SECURITY_PROPERTIES as readonly string[]).includes(k)) {
      throw new TypeError(`${who}: Kafka property '${k}' is not supported; the security properties read are ${SECURITY_PROPERTIES.join(', ')}`);
    }
  }
  const get = (k: (typeof SECURITY_PROPERTIES)[number]): string | undefined => props.get(k);
  const p = (get('security.protocol') ?? 'PLAINTEXT').toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(p)) throw new TypeError(`${who}: 'security.protocol' is one of ${PROTOCOLS.join(', ')}, got '${get('security.protocol')}'`);
  const protocol = p as SecurityProtocol;
  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  let sasl: KafkaSecurity['sasl'] = null;
  if (usesSasl) {
    const mech = (get('sasl.mechanism') ?? 'GSSAPI').toUpperCase();
    if (!(MECHANISMS as readonly string[]).includes(mech)) {
      throw new TypeError(`${who}: 'sasl.mechanism' is one of ${MECHANISMS.join(', ')}${get('sasl.mechanism') === undefined ? " (Kafka's default GSSAPI, Kerberos, is not supported): set it" : `, got '${get('sasl.mechanism')}'`}`);
    }
    const text = get('sasl.jaas.config');
    if (text === undefined) throw new TypeError(`${who}: security.protocol ${protocol} with ${mech} needs 'sasl.jaas.config' with the user name and password`);
    sasl = { mechanism: mech as SaslMechanism, ...jaas(text, mech as SaslMechanism, who) };
  } else {
    for (const k of ['sasl.mechanism', 'sasl.jaas.config'] as const) {
      if (get(k) !== undefined) throw new TypeError(`${who}: '${k}' is set but 'security.protocol' is ${protocol}; set it to SASL_PLAINTEXT or SASL_SSL to authenticate`);
    }
  }
  let tls: KafkaSecurity['tls'] = null;
  if (usesTls) {
    const t: { ca?: string; cert?: string; key?: string; pfx?: Uint8Array; passphrase?: string; verifyHostname: boolean } = { verifyHostname: true };
    const alg = get('ssl.endpoint.identification.algorithm');
    if (alg !== undefined && alg !== '' && alg.toLowerCase() !== 'https') throw new TypeError(`${who}: 'ssl.endpoint.identification.algorithm' is 'https' (check the broker's host name, the default) or '' (do not), got '${alg}'`);
    t.verifyHostname = alg === undefined || alg !== '';
    // Trust: the CA certificates (PEM). Without them, the system's CAs.
    const trustType = get('ssl.truststore.type')?.toUpperCase();
    const inlineCa = get('ssl.truststore.certificates');
    const caPath = get('ssl.truststore.location');
    if (inlineCa !== undefined) t.ca = inlineCa;
    else if (caPath !== undefined) {
      if (trustType !== undefined && trustType !== 'PEM') {
        throw new TypeError(`${who}: 'ssl.truststore.type' ${trustType} is not read here; give the CA certificates as PEM ('ssl.truststore.type' = 'PEM'), e.g. keytool -exportcert -rfc -keystore ${caPath} -alias <ca> -file ca.pem`);
      }
      const text = readText(caPath, "the trust store ('ssl.truststore.location')", who);
      if (!PEM_CERT.test(text)) throw new TypeError(`${who}: the trust store '${caPath}' holds no PEM certificate ('-----BEGIN CERTIFICATE-----'); a JKS or PKCS12 store must be exported to PEM, e.g. keytool -exportcert -rfc -keystore ${caPath} -alias <ca> -file ca.pem`);
      t.ca = text;
    }
    // Client certificate (mutual TLS), if the broker asks for one.
    const keyType = get('ssl.keystore.type')?.toUpperCase();
    const ksPath = get('ssl.keystore.location');
    const inlineKey = get('ssl.keystore.key');
    const inlineChain = get('ssl.keystore.certificate.chain');
    const keyPassword = get('ssl.key.password');
    if (inlineKey !== undefined || inlineChain !== undefined) {
      if (inlineKey === undefined || inlineChain === undefined) throw new TypeError(`${who}: 'ssl.keystore.key' and 'ssl.keystore.certificate.chain' go together (PEM private key and certificate chain)`);
      t.key = inlineKey;
      t.cert = inlineChain;
      if (keyPassword !== undefined) t.passphrase = keyPassword;
    } else if (ksPath !== undefined) {
      if (keyType === 'PKCS12') {
        try {
          t.pfx = readFileSync(ksPath);
        } catch (e) {
          throw new Error(`${who}: cannot read the key store ('ssl.keystore.location') '${ksPath}' (${e instanceof Error ? e.message : String(e)}); check the path`, { cause: e });
        }
        const pw = get('ssl.keystore.password');
        if (pw !== undefined) t.passphrase = pw;
      } else if (keyType === undefined || keyType === 'PEM') {
        const text = readText(ksPath, "the key store ('ssl.keystore.location')", who);
        if (!PEM_KEY.test(text) || !PEM_CERT.test(text)) throw new TypeError(`${who}: the key store '${ksPath}' must hold a PEM private key and certificate chain (or set 'ssl.keystore.type' = 'PKCS12')`);
        t.key = text;
        t.cert = text;
        if (keyPassword !== undefined) t.passphrase = keyPassword;
      } else {
        throw new TypeError(`${who}: 'ssl.keystore.type' ${keyType} is not read here; use PEM or PKCS12 (keytool -importkeystore -srckeystore ${ksPath} -destkeystore client.p12 -deststoretype PKCS12)`);
      }
    }
    tls = t;
  } else {
    const set = [...props.keys()].filter((k) => k.startsWith('ssl.'));
    if (set.length > 0) throw new TypeError(`${who}: ${set.map((k) => `'${k}'`).join(', ')} set but 'security.protocol' is ${protocol}; set it to SSL or SASL_SSL to use TLS`);
  }
  return { protocol, sasl, tls };
}

/** How a connector names its security in errors: "SASL_SSL (SCRAM-SHA-256 as 'alice')". */
export function describeSecurity(s: KafkaSecurity): string {
  return s.sasl === null ? s.protocol : `${s.protocol} (${s.sasl.mechanism} as user '${s.sasl.username}')`;
}
