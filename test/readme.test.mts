import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureCollectorBuilt } from '../harness/collector.mts';
import { ROOT } from '../harness/service.mts';

interface Block {
  mark: string;
  code: string;
  line: number;
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SHELL = /^(sh|bash|shell|console)$/;

function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const fence = /^```(\S*)[ \t]*(\S*)[^\n]*\n([\s\S]*?)^```/gm;
  for (const match of markdown.matchAll(fence)) {
    if (!SHELL.test(match[1]!)) continue;
    blocks.push({ mark: match[2]!, code: match[3]!, line: markdown.slice(0, match.index).split('\n').length });
  }
  return blocks;
}

/** The files a fresh clone would have (tracked, and new files not ignored), copied to a temporary folder. */
function freshCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), 'readme-'));
  const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' });
  for (const file of files.stdout.split('\0').filter(Boolean)) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(ROOT, file), join(copy, file), { dereference: false });
  }
  // Share the collector build (its stamp makes the copy's build.sh see it as up to date).
  mkdirSync(join(copy, '.cache'), { recursive: true });
  symlinkSync(join(ROOT, '.cache/collector'), join(copy, '.cache/collector'));
  return copy;
}

describe('README', () => {
  const blocks = shellBlocks(README);

  it('marks every shell block: `sh runnable` (run below) or `sh manual` (needs a cluster or Sentry, or is what CI runs)', () => {
    assert.ok(blocks.length > 0);
    for (const block of blocks) assert.match(block.mark, /^(runnable|manual)$/, `README.md line ${block.line}: mark the block`);
  });

  describe('runs every `sh runnable` block, in order, in a fresh copy, as a user\'s shell would', () => {
    ensureCollectorBuilt();
    const copy = freshCopy();
    // The user's shell: their own node and npm, not this project's node_modules/.bin.
    const PATH = (process.env.PATH ?? '').split(':').filter((entry) => !entry.includes('node_modules')).join(':');
    after(() => rmSync(copy, { recursive: true, force: true }));

    for (const block of blocks.filter((b) => b.mark === 'runnable')) {
      it(`README.md line ${block.line}: ${block.code.split('\n')[0]}`, () => {
        const run = spawnSync('bash', ['-euo', 'pipefail', '-c', block.code], {
          cwd: copy,
          env: { PATH, HOME: process.env.HOME ?? '/root', CI: 'true' },
          encoding: 'utf8',
          timeout: 10 * 60_000,
        });
        assert.equal(run.status, 0, `exit ${run.status}\n--- stdout\n${run.stdout.slice(-4000)}\n--- stderr\n${run.stderr.slice(-4000)}`);
      });
    }
  });
});
