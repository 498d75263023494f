/**
 * The Kafka client (@platformatic/kafka, docs/kafka-clients.md), loaded only when a Kafka
 * connector opens (jobs without Kafka never load it), and the one place its failures become
 * errors that say what happened and what to do.
 */

import type { KafkaSecurity } from './security.js';

type KafkaModule = typeof import('@platformatic/kafka');

let loading: Promise<KafkaModule> | null = null;

/** The client module, imported on first use. */
export function loadKafka(): Promise<KafkaModule> {
  loading ??= import('@platformatic/kafka').catch((e: unknown) => {
    loading = null;
    throw new Error(`the Kafka connectors need the package @platformatic/kafka, which could not be loaded (${e instanceof Error ? e.message : String(e)}); reinstall Sluice's dependencies (npm install)`, { cause: e });
  });
  return loading;
}

/** `host:port` strings, checked. */
export function bootstrapList(servers: string | readonly string[], who: string): string[] {
  const list = (typeof servers === 'string' ? servers.split(',') : [...servers]).map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new TypeError(`${who}: bootstrap servers are required, e.g. setBootstrapServers('localhost:9092')`);
  for (const s of list) {
    if (!/^[^:\s]+:\d+$/.test(s)) throw new TypeError(`${who}: bootstrap server '${s}' is not host:port`);
  }
  return list;
}

/** The innermost messages of a client error (its errors are often wrapped several times). */
function causes(e: unknown): string {
  const seen: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur instanceof Error && depth < 6; depth++) {
    if (!seen.includes(cur.message)) seen.push(cur.message);
    const inner = (cur as { errors?: unknown[] }).errors;
    cur = cur.cause ?? (Array.isArray(inner) ? inner[0] : undefined);
  }
  return seen.join(': ');
}

/** The client's error codes (`PLT_KFK_...`) in an error and its causes. */
function errorCodes(e: unknown): string[] {
  const out: string[] = [];
  const visit = (x: unknown, depth: number): void => {
    if (depth > 6 || !(x instanceof Error)) return;
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string') out.push(code);
    visit(x.cause, depth + 1);
    const inner = (x as { errors?: unknown }).errors;
    if (Array.isArray(inner)) for (const i of inner) visit(i, depth + 1);
  };
  visit(e, 0);
  return out;
}

/** True for a refused SASL login or a failed TLS handshake (retrying will not help). */
export function isAuthenticationError(e: unknown): boolean {
  return errorCodes(e).includes('PLT_KFK_AUTHENTICATION') || /SASL authentication failed|certificate|self[- ]signed|ERR_TLS|ERR_SSL/i.test(causes(e));
}

/** True when the client could not reach any broker (refused, timed out, closed). */
export function isNetworkError(e: unknown): boolean {
  const text = causes(e);
  return /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|ETIMEDOUT|EPIPE|Connection closed|Network|timed out|Timeout/i.test(text);
}

/**
 * A client failure as an error naming the connector, the brokers and the operation, and what
 * to do; the client's own error stays as the cause.
 */
export function kafkaError(who: string, bootstrap: readonly string[], doing: string, e: unknown, security?: KafkaSecurity): Error {
  const detail = causes(e);
  const codes = errorCodes(e);
  if (security?.sasl && (codes.includes('PLT_KFK_AUTHENTICATION') || /SASL authentication failed|Authentication failed/i.test(detail))) {
    const { mechanism, username } = security.sasl;
    return new Error(
      `${who}: the Kafka broker(s) at ${bootstrap.join(',')} refused SASL authentication with mechanism ${mechanism} as user '${username}' (${security.protocol}) while ${doing} (${detail}); check the user name and password in 'sasl.jaas.config', and that the user exists for ${mechanism} on the broker`,
      { cause: e },
    );
  }
  if (security?.tls && /certificate|self[- ]signed|ERR_TLS|ERR_SSL|SSL routines|altnames|wrong version number|secure TLS/i.test(detail)) {
    return new Error(
      `${who}: the TLS connection to the Kafka broker(s) at ${bootstrap.join(',')} failed while ${doing} (${detail}); check that the broker's listener there is ${security.protocol}, that 'ssl.truststore.*' holds the CA that signed its certificate, and that the certificate names the host (or set 'ssl.endpoint.identification.algorithm' to '')`,
      { cause: e },
    );
  }
  if (isNetworkError(e)) {
    return new Error(`${who}: cannot reach the Kafka broker(s) at ${bootstrap.join(',')} while ${doing} (${detail}); is Kafka running there and is the address right?`, { cause: e });
  }
  return new Error(`${who}: ${doing} failed: ${detail}`, { cause: e });
}
