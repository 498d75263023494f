// A single-node Apache Kafka broker (KRaft, combined broker + controller) on 127.0.0.1, for
// Sluice's tests and examples. The jars come from Maven Central through `scripts/kafka/pom.xml`
// (`fetchKafkaJars`), the broker runs as a child JVM (`startBroker`), and `node
// scripts/kafka/broker.mjs` (`npm run kafka`) runs one in the foreground.
//
// The child JVM never outlives this process: it is started by a small `sh` wrapper that reads
// this process's pipe and sends the JVM SIGTERM when the pipe closes, which happens on `stop()`
// and also when this process dies in any way (even SIGKILL).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const POM = join(HERE, 'pom.xml');
/** The line Kafka logs (logger kafka.server.KafkaRaftServer) once the broker serves requests. */
const STARTED = 'Kafka Server started';

/** The Kafka version the pom pins (`<kafka.version>`), the one source of truth. */
export function kafkaVersion() {
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(POM, 'utf8'));
  if (!m?.[1]) throw new Error(`${POM} has no <kafka.version> property`);
  return m[1];
}

/** Where the jars live: $SLUICE_KAFKA_HOME, else <cache dir>/sluice/kafka-<version>. */
export function kafkaHome(version = kafkaVersion()) {
  if (process.env.SLUICE_KAFKA_HOME) return process.env.SLUICE_KAFKA_HOME;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'sluice', `kafka-${version}`);
}

/**
 * Makes sure the broker's jars are in `kafkaHome()/libs`, fetching them with Maven when they
 * are not (a one-time cost: Maven keeps them in ~/.m2 as well). Returns the libs folder.
 * @param {{ log?: (line: string) => void }} [options]
 */
export function fetchKafkaJars(options = {}) {
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  const home = kafkaHome();
  const libs = join(home, 'libs');
  if (existsSync(join(home, 'libs.complete'))) return libs;
  const mvn = spawnSync('mvn', ['--version'], { stdio: 'ignore' });
  if (mvn.error || mvn.status !== 0) {
    throw new Error('could not fetch Kafka jars: mvn (Apache Maven) not found on PATH: install Maven 3.8+, '
      + `or put Kafka ${kafkaVersion()}'s jars in ${libs} and create ${join(home, 'libs.complete')}`);
  }
  mkdirSync(home, { recursive: true });
  const partial = mkdtempSync(join(home, 'libs.fetching-'));
  log(`fetching Kafka ${kafkaVersion()} jars with Maven into ${libs} (once) ...`);
  const started = Date.now();
  const r = spawnSync('mvn', ['-B', '-q', '-f', POM, 'dependency:copy-dependencies',
    `-DoutputDirectory=${partial}`, '-DincludeScope=runtime'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(partial, { recursive: true, force: true });
    const cause = r.error?.message ?? `${r.stdout}${r.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`could not fetch Kafka jars with Maven (mvn -f ${POM} dependency:copy-dependencies): ${cause}`);
  }
  if (!readdirSync(partial).some((f) => f.startsWith('kafka_2.13-'))) {
    throw new Error(`could not fetch Kafka jars with Maven: ${partial} has no kafka_2.13 jar after the copy`);
  }
  try {
    renameSync(partial, libs);
  } catch (e) {
    // Another process fetched them at the same time: keep theirs.
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(libs)) throw e;
  }
  writeFileSync(join(home, 'libs.complete'), `${new Date().toISOString()}\n`);
  log(`fetched Kafka jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return libs;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; it is free until someone else binds it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function checkJava() {
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`java not found (${java}): install a JDK 17+ (Kafka 4 needs Java 17) or set JAVA_HOME`);
  }
  const m = /version "(\d+)/.exec(r.stderr);
  if (m?.[1] && Number(m[1]) < 17) {
    throw new Error(`${java} is Java ${m[1]}; Kafka 4 needs Java 17+: install a JDK 17+ or set JAVA_HOME to one`);
  }
  return java;
}

/** The test users of the SASL listeners: PLAIN ones in the broker's JAAS entry, SCRAM ones added at format time. */
export const TEST_USERS = Object.freeze({ plain: { username: 'alice', password: 'alice-secret' }, scram: { username: 'bob', password: 'bob-secret' } });

/**
 * A test CA and a broker certificate for 127.0.0.1 and localhost, signed by it, made with
 * openssl in `dir`: ca.pem (what clients trust) and broker-keystore.pem (key and certificate,
 * Kafka's PEM key store). Valid for two days: made afresh for every new broker folder.
 */
function makeCertificates(dir) {
  mkdirSync(dir, { recursive: true });
  const run = (args) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      throw new Error(`could not make the test broker's TLS certificates (openssl ${args[0]}): ${r.error?.message ?? `${r.stdout}${r.stderr}`.trim()}; `
        + 'the SSL and SASL_SSL listeners need openssl on PATH');
    }
  };
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Sluice test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=localhost']);
  run(['x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'broker.pem', '-days', '2', '-extfile', 'san.ext']);
  writeFileSync(join(dir, 'broker-keystore.pem'), readFileSync(join(dir, 'broker.key'), 'utf8') + readFileSync(join(dir, 'broker.pem'), 'utf8'));
  return { caFile: join(dir, 'ca.pem'), keystore: join(dir, 'broker-keystore.pem') };
}

/** Listener lines of the optional SSL, SASL_PLAINTEXT and SASL_SSL listeners. */
function secureProperties(secure, certs) {
  const { plain } = TEST_USERS;
  const jaasPlain = `org.apache.kafka.common.security.plain.PlainLoginModule required user_${plain.username}="${plain.password}";`;
  const jaasScram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  const lines = [
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${certs.keystore}`,
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
  ];
  for (const l of ['sasl_plaintext', 'sasl_ssl']) {
    lines.push(`listener.name.${l}.plain.sasl.jaas.config=${jaasPlain}`);
    lines.push(`listener.name.${l}.scram-sha-256.sasl.jaas.config=${jaasScram}`);
    lines.push(`listener.name.${l}.scram-sha-512.sasl.jaas.config=${jaasScram}`);
  }
  return lines;
}

function serverProperties(dir, port, controllerPort, secure, certs) {
  const extra = secure === null ? '' : `,SSL://127.0.0.1:${secure.ssl},SASL_PLAINTEXT://127.0.0.1:${secure.saslPlaintext},SASL_SSL://127.0.0.1:${secure.saslSsl}`;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${extra}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${extra}`,
    `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${secure === null ? '' : ',SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL'}`,
    ...(secure === null ? [] : secureProperties(secure, certs)),
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
    `log.dirs=${join(dir, 'data')}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.network.threads=2',
    'num.io.threads=2',
    'background.threads=2',
    '',
  ].join('\n');
}

function log4jProperties(logFile) {
  // Everything to server.log; the one "Kafka Server started" line (and errors) also to stdout,
  // which is how startBroker knows the broker is ready.
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = FILE',
    `appender.file.fileName = ${logFile}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'appender.out.type = Console',
    'appender.out.name = OUT',
    'appender.out.layout.type = PatternLayout',
    'appender.out.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = info',
    'rootLogger.appenderRef.file.ref = FILE',
    'rootLogger.appenderRef.out.ref = OUT',
    'rootLogger.appenderRef.out.level = error',
    'logger.raft.name = kafka.server.KafkaRaftServer',
    'logger.raft.level = info',
    'logger.raft.additivity = false',
    'logger.raft.appenderRef.file.ref = FILE',
    'logger.raft.appenderRef.out.ref = OUT',
    '',
  ].join('\n');
}

/**
 * A random Kafka cluster id: 16 bytes, URL-safe base64 without padding (as `random-uuid`). Not
 * one starting with '-', which StorageTool's argument parser takes for an option (Kafka's
 * Uuid.randomUuid() avoids those too): 1 format in 64 failed with "expected one argument".
 */
function clusterId() {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts a single-node KRaft broker on 127.0.0.1 and resolves once it logs that it has started.
 * `dir` (default: a new temporary folder) holds server.properties, the data and server.log;
 * a `dir` that was formatted before is reused as it is (same ports, same data), so a stopped
 * broker can be started again.
 * @param {import('./broker.mjs').BrokerOptions} [options]
 * @returns {Promise<import('./broker.mjs').Broker>}
 */
export async function startBroker(options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (e) {
      // A port picked as free was taken by another process before the broker bound it (other
      // brokers start at the same time in parallel test runs): a new folder with new ports.
      if (attempt >= 3 || !e?.portTaken) throw e;
      options.log?.(`a port was taken before the broker bound it; starting again with other ports (${e.message.split('\n')[0]})`);
      if (options.dir === undefined) rmSync(e.portTaken, { recursive: true, force: true });
      else for (const f of readdirSync(e.portTaken)) rmSync(join(e.portTaken, f), { recursive: true, force: true });
    }
  }
}

/** One start; an error with `portTaken` (the folder) when a port it chose was in use. */
async function startOnce(options) {
  const java = checkJava();
  const libs = fetchKafkaJars({ log: options.log });
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sluice-kafka-'));
  mkdirSync(dir, { recursive: true });
  const props = join(dir, 'server.properties');
  const logFile = join(dir, 'server.log');
  let port, controllerPort;
  const fresh = !existsSync(join(dir, 'formatted'));
  /** @type {{ ssl: number, saslPlaintext: number, saslSsl: number } | null} */
  let secure = null;
  const certDir = join(dir, 'certs');
  const listener = (text, name) => Number(new RegExp(`(?:=|,)${name}://127\\.0\\.0\\.1:(\\d+)`).exec(text)?.[1]);
  if (existsSync(join(dir, 'formatted'))) {
    const text = readFileSync(props, 'utf8');
    port = listener(text, 'PLAINTEXT');
    controllerPort = listener(text, 'CONTROLLER');
    if (text.includes('SASL_SSL://')) secure = { ssl: listener(text, 'SSL'), saslPlaintext: listener(text, 'SASL_PLAINTEXT'), saslSsl: listener(text, 'SASL_SSL') };
  } else {
    port = options.port ?? await freePort();
    controllerPort = options.controllerPort ?? await freePort();
    if (options.secure) secure = { ssl: await freePort(), saslPlaintext: await freePort(), saslSsl: await freePort() };
    const certs = secure === null ? null : makeCertificates(certDir);
    writeFileSync(props, serverProperties(dir, port, controllerPort, secure, certs) + (options.properties ?? []).map((l) => `${l}\n`).join(''));
    writeFileSync(join(dir, 'log4j2.properties'), log4jProperties(logFile));
    const { scram } = TEST_USERS;
    const scramUsers = secure === null ? [] : ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${scram.username},password=${scram.password}]`]);
    const format = spawnSync(java, ['-Xmx256m', `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
      '-cp', join(libs, '*'), 'kafka.tools.StorageTool', 'format', '--standalone',
      '--cluster-id', clusterId(), '--config', props, ...scramUsers], { encoding: 'utf8' });
    if (format.error || format.status !== 0) {
      throw new Error(`could not format the Kafka storage in ${dir} (kafka.tools.StorageTool format): `
        + `${format.error?.message ?? `${format.stdout}${format.stderr}`.trim()}`);
    }
    writeFileSync(join(dir, 'formatted'), '');
  }
  const bootstrap = `127.0.0.1:${port}`;
  const jvm = [
    `-Xmx${options.heap ?? '512m'}`, '-Xms128m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
    '-cp', join(libs, '*'), 'kafka.Kafka', props,
  ];
  // The wrapper: the JVM in the background, its stdin from /dev/null; a reader of our pipe on
  // fd 3 that sends it SIGTERM at end of file; SIGTERM or SIGINT to the wrapper are passed on;
  // the wrapper exits once the JVM has (a signal interrupts `wait`, hence the loop), with its status.
  const wrapper = 'exec 3<&0; "$@" </dev/null & j=$!; '
    + '(cat <&3 >/dev/null; kill -TERM $j 2>/dev/null) & w=$!; '
    + 'trap \'kill -TERM $j 2>/dev/null\' TERM INT; '
    + 'while :; do wait $j; s=$?; kill -0 $j 2>/dev/null || break; done; '
    + 'kill $w 2>/dev/null; exit $s';
  const child = spawn('sh', ['-c', wrapper, 'sluice-kafka', java, ...jvm], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const stopOnExit = () => child.stdin.destroy();
  process.on('exit', stopOnExit);
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (output.includes(STARTED)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new Error(`could not start the Kafka broker (${java}): ${e.message}`)));
    exited.then(({ code, signal }) => {
      const e = new Error(`the Kafka broker exited before it was ready (code ${code}, signal ${signal}); `
        + `its log ${logFile} ends with:\n${tail(logFile)}\n${output.trim()}`);
      const chosen = fresh && options.port === undefined && options.controllerPort === undefined;
      if (chosen && /Address already in use/.test(`${tail(logFile, 200)}${output}`)) e.portTaken = dir;
      reject(e);
    });
  });
  await ready;
  options.log?.(`Kafka ${kafkaVersion()} broker ready at ${bootstrap} (dir ${dir})`);
  let stopping;
  return {
    bootstrap,
    port,
    controllerPort,
    secure: secure === null ? null : {
      ssl: `127.0.0.1:${secure.ssl}`,
      saslPlaintext: `127.0.0.1:${secure.saslPlaintext}`,
      saslSsl: `127.0.0.1:${secure.saslSsl}`,
      caFile: join(certDir, 'ca.pem'),
      users: TEST_USERS,
    },
    dir,
    logFile,
    pid: child.pid,
    exited: exited.then((r) => r),
    stop() {
      stopping ??= (async () => {
        child.stdin.end();
        const r = await exited;
        process.off('exit', stopOnExit);
        return r;
      })();
      return stopping;
    },
  };
}

// `node scripts/kafka/broker.mjs`: a broker in the foreground until Ctrl-C;
// `node scripts/kafka/broker.mjs --fetch`: only fetch the jars (CI does this before the tests).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const log = (line) => process.stderr.write(`${line}\n`);
  try {
    if (process.argv.includes('--fetch')) {
      log(`Kafka ${kafkaVersion()} jars: ${fetchKafkaJars({ log })}`);
      process.exit(0);
    }
    const started = Date.now();
    const broker = await startBroker({ log, dir: process.env.SLUICE_KAFKA_DIR });
    log(`started in ${((Date.now() - started) / 1000).toFixed(1)} s; broker log: ${broker.logFile}`);
    process.stdout.write(`bootstrap servers: ${broker.bootstrap}\n`);
    log('Ctrl-C stops it.');
    const stop = () => { log('stopping ...'); void broker.stop(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const { code, signal } = await broker.exited;
    log(`broker exited (code ${code}, signal ${signal})`);
    // A folder of our own goes with the broker; one named by SLUICE_KAFKA_DIR is kept for next time.
    if (!process.env.SLUICE_KAFKA_DIR) rmSync(broker.dir, { recursive: true, force: true });
    process.exitCode = code === 0 || code === 143 ? 0 : 1;
  } catch (e) {
    log(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  }
}
