/**
 * The Kafka client (@platformatic/kafka, docs/kafka-clients.md), loaded only when a Kafka
 * connector opens (jobs without Kafka never load it), and the one place its failures become
 * errors that say what happened and what to do.
 */

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

/** True when the client could not reach any broker (refused, timed out, closed). */
export function isNetworkError(e: unknown): boolean {
  const text = causes(e);
  return /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|ETIMEDOUT|EPIPE|Connection closed|Network|timed out|Timeout/i.test(text);
}

/**
 * A client failure as an error naming the connector, the brokers and the operation, and what
 * to do; the client's own error stays as the cause.
 */
export function kafkaError(who: string, bootstrap: readonly string[], doing: string, e: unknown): Error {
  const detail = causes(e);
  if (isNetworkError(e)) {
    return new Error(`${who}: cannot reach the Kafka broker(s) at ${bootstrap.join(',')} while ${doing} (${detail}); is Kafka running there and is the address right?`, { cause: e });
  }
  return new Error(`${who}: ${doing} failed: ${detail}`, { cause: e });
}
