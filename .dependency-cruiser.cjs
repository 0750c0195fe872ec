/**
 * The arrows of src/, checked in `npm test` (npm run check:deps). Type-only imports count:
 * a cycle through types still ties two modules together.
 */
const STAGES = '(access|cache|upstream|policy|tagging)';

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'no module may reach itself through its imports', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'wire-is-the-base',
      comment: 'wire/ reads and writes DNS bytes and knows nothing above it',
      severity: 'error',
      from: { path: '^src/wire/' },
      to: { path: '^src/', pathNot: '^src/wire/' },
    },
    {
      name: 'pipeline-is-the-contract',
      comment: 'pipeline/ holds the Stage contract and the Query; it knows no stage',
      severity: 'error',
      from: { path: '^src/pipeline/' },
      to: { path: '^src/', pathNot: '^src/(pipeline|wire)/' },
    },
    {
      name: 'stages-know-interfaces',
      comment: 'a stage knows the contract, not other stages or the process around it',
      severity: 'error',
      from: { path: `^src/(access|cache|upstream)/` },
      to: { path: `^src/(${STAGES.slice(1, -1)}|transport|server|events|http)/`, pathNot: '^src/$1/' },
    },
    {
      name: 'feed-reads-events',
      comment: 'the feed is a reader of the event hub; HTTP serves it',
      severity: 'error',
      from: { path: '^src/feed/' },
      to: { path: '^src/', pathNot: '^src/(feed|events)/' },
    },
    {
      name: 'metrics-declare-what-they-read',
      comment: 'metrics/ declares narrow interfaces instead of importing what it measures',
      severity: 'error',
      from: { path: '^src/metrics/' },
      to: { path: '^src/(server|transport|cache|upstream|http|history|siem|feed|scaleout|policy|tagging)/' },
    },
    {
      name: 'only-the-process-assembles',
      comment: 'server/ builds the chain and the process; only the CLI uses it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(server|cli)/' },
      to: { path: '^src/(server|cli)/' },
    },
  ],
  options: {
    // TypeScript 7 has no JavaScript compiler API; swc parses the sources instead.
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/dashboard/assets/' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
