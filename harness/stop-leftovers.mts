// Imported into every test file by npm test (node --test --import): once the
// file's tests and hooks are done, whatever the harness started and nobody
// stopped is killed (harness/process.mts). What runs inside the test process
// (a receiver, a stand-in) and a failed hook left open would keep the file
// alive until CI's timeout, losing every later file's results: a file still
// running LINGER_MS after its last hook fails instead, and says why.
// (Not node's --test-force-exit: with it, a file sometimes ended before all of
// its suites had run, 84 tests of k8s.test's 92, and passed.)
import { after } from 'node:test';
import { killLeftovers } from './process.mts';

const LINGER_MS = 15_000;

after(() => {
  killLeftovers();
  // Unref'd: it fires only if something else still holds the process open.
  setTimeout(() => {
    process.stderr.write(`${process.argv[1]}: still running ${LINGER_MS / 1000} s after its tests ended (a server or socket left open?): exiting with 1\n`);
    process.exit(1);
  }, LINGER_MS).unref();
});
