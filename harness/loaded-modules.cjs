// Preloaded with NODE_OPTIONS=--require by a test: on exit, writes the paths
// of every CommonJS module the process loaded to LOADED_MODULES_FILE.
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  writeFileSync(process.env.LOADED_MODULES_FILE, JSON.stringify(Object.keys(require.cache)));
});
