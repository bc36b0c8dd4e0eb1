// CI: the production dependencies, against the npm registry. A dependency
// marked deprecated fails the run; what is outdated is shown only.
// (Asked here rather than in `npm test`, so the tests need no registry.)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const { dependencies } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const npm = (args) => execFileSync('npm', args, { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] });

const deprecated = [];
for (const [name, version] of Object.entries(dependencies)) {
  const note = npm(['view', `${name}@${version}`, 'deprecated', '--json']).trim();
  if (note && JSON.parse(note)) deprecated.push(`${name}@${version}: ${JSON.parse(note)}`);
}

let outdated = {};
try {
  outdated = JSON.parse(npm(['outdated', '--json']) || '{}');
} catch (error) {
  outdated = JSON.parse(error.stdout || '{}'); // npm outdated exits 1 when something is outdated
}
for (const name of Object.keys(dependencies)) {
  for (const { current, latest } of [].concat(outdated[name] ?? [])) {
    // The registry's `latest` tag of some packages points at an older line (OpenTelemetry's 2.x): only newer releases count.
    if (latest.localeCompare(current, undefined, { numeric: true }) > 0) console.log(`outdated: ${name} ${current}, latest ${latest}`);
  }
}

if (deprecated.length > 0) {
  console.error(`deprecated on the npm registry:\n  ${deprecated.join('\n  ')}`);
  process.exit(1);
}
console.log(`${Object.keys(dependencies).length} production dependencies, none deprecated`);
