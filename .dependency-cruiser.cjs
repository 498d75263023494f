// The layers of ts/ (ARCHITECTURE.md), checked by `npm run lint:layers` and by
// test/architecture/layers.test.ts. From the ground up:
//   batch < keys < engine < api < table < plan < runtime < connectors < sql < cli (and ts/index.ts on top).
// Beside them, ts/ui is the dashboard page (browser code, bundled by esbuild): it reads the
// types of api and plan and imports nothing else of Sluice; only cli/dashboard.ts reaches it,
// for ui/protocol.ts (what server and page exchange).
// A file may import its own layer and the layers below it, with two named exceptions: the
// DataStream API builds the logical graph (api -> plan/graph, plan/two-phase), and
// api/environment.ts is where a job is planned and executed (api -> plan, runtime).
const API_CYCLE = '^ts/api/(datastream|environment|joins)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycles between files, except DataStream / environment / joins (Flink\'s own shape).',
      severity: 'error',
      from: { pathNot: API_CYCLE },
      to: { circular: true },
    },
    {
      name: 'no-cycles-through-api-triangle',
      comment: 'The DataStream / environment / joins cycle may not pass through any other file.',
      severity: 'error',
      from: { path: API_CYCLE },
      to: { circular: true, viaSomeNot: API_CYCLE },
    },
    {
      name: 'batch-is-the-ground-floor',
      comment: 'ts/batch (columns, schemas, the wire format and its generated FlatBuffers code) imports nothing of Sluice but itself.',
      severity: 'error',
      from: { path: '^ts/batch/' },
      to: { path: '^ts/', pathNot: '^ts/batch/' },
    },
    {
      name: 'keys-stand-on-batch',
      comment: 'ts/keys (canonical key bytes, murmur3, key groups, Map keys) imports only ts/batch.',
      severity: 'error',
      from: { path: '^ts/keys/' },
      to: { path: '^ts/', pathNot: '^ts/(batch|keys)/' },
    },
    {
      name: 'engine-below-api',
      comment: 'The engines know nothing of the API, the plan, the runtime, connectors or the CLI.',
      severity: 'error',
      from: { path: '^ts/engine/' },
      to: { path: '^ts/(api|plan|runtime|connectors|cli)/|^ts/index\\.ts$' },
    },
    {
      name: 'engines-only-through-the-interface',
      comment: 'Outside ts/engine, an engine is reached only through the Engine interface (engine/engine.ts, engine/select.ts, the shared specs), never its TS or native implementation.',
      severity: 'error',
      from: { pathNot: '^ts/engine/' },
      to: { path: '^ts/engine/(ts|native)/' },
    },
    {
      name: 'api-below-plan-and-runtime',
      comment: 'The API builds the logical graph (plan/graph, plan/two-phase); only api/environment.ts plans and runs a job.',
      severity: 'error',
      from: { path: '^ts/api/', pathNot: '^ts/api/environment\\.ts$' },
      to: { path: '^ts/(plan|runtime|connectors|cli)/', pathNot: '^ts/plan/(graph|two-phase)\\.ts$' },
    },
    {
      name: 'api-below-table',
      comment: 'The Table API builds on the DataStream API; the DataStream API knows nothing of tables.',
      severity: 'error',
      from: { path: '^ts/(batch|keys|engine|api)/' },
      to: { path: '^ts/table/' },
    },
    {
      name: 'table-below-plan',
      comment: 'ts/table (expressions, Table, its planning into calc nodes) adds nodes to the logical graph (plan/graph) and runs jobs through the environment; it never imports the physical plan, the runtime, connectors or the CLI.',
      severity: 'error',
      from: { path: '^ts/table/' },
      to: { path: '^ts/(plan|runtime|connectors|cli)/', pathNot: '^ts/plan/(graph|two-phase)\\.ts$' },
    },
    {
      name: 'environment-not-above-runtime',
      comment: 'api/environment.ts reaches plan and runtime, never connectors or the CLI.',
      severity: 'error',
      from: { path: '^ts/api/environment\\.ts$' },
      to: { path: '^ts/(connectors|cli)/' },
    },
    {
      name: 'plan-never-imports-runtime',
      severity: 'error',
      from: { path: '^ts/plan/' },
      to: { path: '^ts/(runtime|connectors|cli)/' },
    },
    {
      name: 'runtime-below-connectors',
      comment: 'Connectors build on the runtime and the API; the runtime never imports a connector or the CLI.',
      severity: 'error',
      from: { path: '^ts/runtime/' },
      to: { path: '^ts/(connectors|cli)/' },
    },
    {
      name: 'sql-above-connectors',
      comment: 'ts/sql (Flink SQL: parser, CREATE TABLE connectors, queries into Table operations) builds on table and connectors; only the CLI and the public API import it (TableEnvironment reaches it through registerSqlPlanner).',
      severity: 'error',
      from: { path: '^ts/(batch|keys|engine|api|table|plan|runtime|connectors)/' },
      to: { path: '^ts/sql/' },
    },
    {
      name: 'sql-never-imports-runtime-or-cli',
      severity: 'error',
      from: { path: '^ts/sql/' },
      to: { path: '^ts/(runtime|cli)/|^ts/plan/physical' },
    },
    {
      name: 'connectors-below-cli',
      severity: 'error',
      from: { path: '^ts/connectors/' },
      to: { path: '^ts/cli/' },
    },
    {
      name: 'the-page-runs-in-the-browser',
      comment: 'ts/ui is bundled for the browser: it imports no Sluice code at run time, only the types of api and plan.',
      severity: 'error',
      from: { path: '^ts/ui/' },
      to: { path: '^ts/', pathNot: '^ts/ui/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'the-page-reads-api-and-plan-types',
      severity: 'error',
      from: { path: '^ts/ui/' },
      to: { path: '^ts/', pathNot: '^ts/(ui|api|plan)/' },
    },
    {
      name: 'only-the-dashboard-server-reaches-the-page',
      comment: 'cli/dashboard.ts serves the page and shares ui/protocol.ts with it; nothing else imports ts/ui.',
      severity: 'error',
      from: { path: '^ts/', pathNot: '^ts/(ui/|cli/dashboard\\.ts$)' },
      to: { path: '^ts/ui/' },
    },
    {
      name: 'the-server-shares-only-the-protocol',
      severity: 'error',
      from: { path: '^ts/cli/dashboard\\.ts$' },
      to: { path: '^ts/ui/', pathNot: '^ts/ui/protocol\\.ts$' },
    },
    {
      name: 'public-api-is-the-top',
      comment: 'ts/index.ts is the public API: nothing inside imports it.',
      severity: 'error',
      from: { path: '^ts/', pathNot: '^ts/index\\.ts$' },
      to: { path: '^ts/index\\.ts$' },
    },
    {
      name: 'public-types-live-in-api',
      comment: 'Every type a user writes against lives in ts/api (or batch, connectors, engine); the public API exports nothing from runtime or plan.',
      severity: 'error',
      from: { path: '^ts/index\\.ts$' },
      to: { path: '^ts/(runtime|plan)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    // Type-only imports count: a cycle of types is a cycle of concepts.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
