/**
 * The client's connection options (`tls` for Node's tls.connect, `sasl`) for a connector's
 * security: apart from security.ts so that the public declarations (which name KafkaSecurity)
 * need no Node types.
 */

import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { KafkaSecurity, SaslMechanism } from './security.js';

/** Spread into every client and connection a connector opens. */
export function connectionOptions(s: KafkaSecurity): { tls?: TlsOptions; sasl?: { mechanism: SaslMechanism; username: string; password: string } } {
  const out: { tls?: TlsOptions; sasl?: { mechanism: SaslMechanism; username: string; password: string } } = {};
  if (s.tls !== null) {
    const { verifyHostname, pfx, ...pem } = s.tls;
    out.tls = { ...pem, ...(pfx === undefined ? {} : { pfx: Buffer.from(pfx) }), rejectUnauthorized: true, ...(verifyHostname ? {} : { checkServerIdentity: () => undefined }) };
  }
  if (s.sasl !== null) out.sasl = { mechanism: s.sasl.mechanism, username: s.sasl.username, password: s.sasl.password };
  return out;
}
