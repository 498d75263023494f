// Starts one real Kafka broker (scripts/kafka/broker.mjs) for the `kafka` vitest project, i.e.
// the test files under test/kafka/, and stops it when they are done. Tests read its address
// with `inject('kafkaBootstrap')`, and its SSL / SASL_PLAINTEXT / SASL_SSL listeners (test CA,
// users) with `inject('kafkaSecure')`. Other test files are in another project and never wait for it.
import { rmSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startBroker, type SecureListeners } from '../../scripts/kafka/broker.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBootstrap: string;
    kafkaLogFile: string;
    kafkaSecure: SecureListeners;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const broker = await startBroker({ secure: true, log: (line) => process.stderr.write(`[kafka] ${line}\n`) });
  process.stderr.write(`[kafka] broker started in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  project.provide('kafkaBootstrap', broker.bootstrap);
  project.provide('kafkaLogFile', broker.logFile);
  project.provide('kafkaSecure', broker.secure!);
  return async () => {
    await broker.stop();
    // Its data and log go with it, unless SLUICE_KAFKA_KEEP=1 (to read server.log afterwards).
    if (process.env.SLUICE_KAFKA_KEEP === '1') process.stderr.write(`[kafka] kept ${broker.dir}\n`);
    else rmSync(broker.dir, { recursive: true, force: true });
  };
}
