// Types of broker.mjs for TypeScript callers (the test set-up in test/kafka/).

export interface BrokerOptions {
  /** Folder for server.properties, data and server.log; a formatted one is reused as it is. */
  dir?: string;
  /** Broker listener port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Controller listener port on 127.0.0.1 (default: a free one). */
  controllerPort?: number;
  /** JVM maximum heap, e.g. '512m' (the default). */
  heap?: string;
  /** Progress lines (fetching jars, ready). */
  log?: (line: string) => void;
  /**
   * Also SSL, SASL_PLAINTEXT and SASL_SSL listeners on free ports (a new folder only): a test CA
   * and broker certificate made with openssl, PLAIN and SCRAM-SHA-256/512 users (TEST_USERS).
   */
  secure?: boolean;
  /** Extra server.properties lines (`name=value`) for a new folder. */
  properties?: readonly string[];
}

export interface TestUser {
  readonly username: string;
  readonly password: string;
}

export interface SecureListeners {
  /** host:port of each listener. */
  readonly ssl: string;
  readonly saslPlaintext: string;
  readonly saslSsl: string;
  /** The test CA's certificate (PEM): what clients trust. */
  readonly caFile: string;
  /** `plain`: a PLAIN user; `scram`: a SCRAM-SHA-256 and SCRAM-SHA-512 user. */
  readonly users: { readonly plain: TestUser; readonly scram: TestUser };
}

export interface Broker {
  /** host:port for bootstrap.servers. */
  readonly bootstrap: string;
  readonly port: number;
  readonly controllerPort: number;
  /** The secure listeners, if started with `secure`. */
  readonly secure: SecureListeners | null;
  readonly dir: string;
  /** The broker's log (Log4j 2, everything at INFO). */
  readonly logFile: string;
  readonly pid: number | undefined;
  /** Resolves when the broker process has exited, for whatever reason. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then resolves once it has exited (Kafka's clean shutdown). */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export const TEST_USERS: SecureListeners['users'];
export function kafkaVersion(): string;
export function kafkaHome(version?: string): string;
export function fetchKafkaJars(options?: { log?: (line: string) => void }): string;
export function freePort(): Promise<number>;
export function startBroker(options?: BrokerOptions): Promise<Broker>;
