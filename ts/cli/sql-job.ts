/**
 * A SQL script as a job module (`sluice sql file.sql`, `sluice run file.sql`): its default
 * export plans the script (CREATE TABLE, CREATE VIEW, INSERT INTO, SELECT printed) into the
 * environment, as a TypeScript pipeline's does; worker threads of a parallel run rebuild the
 * job from this module and the script's path.
 */

import { readFileSync } from 'node:fs';
import type { StreamEnvironment } from '../api/environment.js';
import { planSql } from '../sql/sql.js';
import { TableEnvironment } from '../table/table.js';

export default async function (env: StreamEnvironment, args: readonly string[]): Promise<void> {
  const file = args[0];
  if (file === undefined) throw new Error('sql-job: the SQL file is its first argument');
  const sinks = await planSql(TableEnvironment.create(env), readFileSync(file, 'utf8'));
  if (sinks === 0) throw new Error(`${file} has no INSERT INTO or SELECT: nothing to run`);
}
