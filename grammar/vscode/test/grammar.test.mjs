// Tokenizes pipe files with vscode-textmate (VS Code's own TextMate engine) and checks the scopes
// of the parts that matter, and that every example tokenizes with no line left unscoped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

async function grammar() {
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () =>
      vsctm.parseRawGrammar(readFileSync(join(here, '..', 'syntaxes', 'pipe.tmLanguage.json'), 'utf8'), 'pipe.tmLanguage.json'),
  });
  return registry.loadGrammar('source.pipe');
}

function tokenize(g, text) {
  let stack = vsctm.INITIAL;
  const out = [];
  for (const line of text.split('\n')) {
    const r = g.tokenizeLine(line, stack);
    for (const t of r.tokens) out.push({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    stack = r.ruleStack;
  }
  return out;
}

function scopeOf(tokens, text) {
  const t = tokens.find((t) => t.text === text);
  assert.ok(t, `no token ${JSON.stringify(text)}`);
  return t.scopes.join(' ');
}

test('scopes of the main constructs', async () => {
  const g = await grammar();
  const src = [
    'use torchx',
    '## Epochs.',
    'param epochs: int = 10',
    'input digits = repo("mnist") @ "v2"',
    'stage train: torchx.ddp {',
    '  args    = ["${epochs}", "a\\n"]',
    '  memory  = 64Gi',
    '  datums  = glob(digits, "/*")  # one per file',
    '}',
  ].join('\n');
  const tokens = tokenize(g, src);
  assert.match(scopeOf(tokens, 'use'), /keyword\.control\.import/);
  assert.match(scopeOf(tokens, '## Epochs.'), /comment\.line\.documentation/);
  assert.match(scopeOf(tokens, 'epochs'), /variable\.parameter/);
  assert.match(scopeOf(tokens, 'int'), /support\.type/);
  assert.match(scopeOf(tokens, 'train'), /entity\.name\.function\.stage/);
  assert.match(scopeOf(tokens, 'torchx.ddp'), /entity\.name\.type\.template/);
  assert.match(scopeOf(tokens, '${'), /punctuation\.section\.interpolation/);
  assert.match(scopeOf(tokens, '\\n'), /constant\.character\.escape/);
  assert.match(scopeOf(tokens, '64Gi'), /constant\.numeric\.unit/);
  assert.match(scopeOf(tokens, 'glob'), /support\.function\.builtin/);
  assert.match(scopeOf(tokens, 'memory'), /variable\.other\.property/);
  assert.match(scopeOf(tokens, '# one per file'), /comment\.line\.number-sign/);
});

test('sweeps: grid and sample are builtins, exponents are numbers, units stay units', async () => {
  const g = await grammar();
  const tokens = tokenize(g, '  datums = sample(grid(lr = [1e-4, 2.5E+3]), n = 8)\n  memory = 1e3Gi');
  assert.match(scopeOf(tokens, 'grid'), /support\.function\.builtin/);
  assert.match(scopeOf(tokens, 'sample'), /support\.function\.builtin/);
  assert.match(scopeOf(tokens, '1e-4'), /constant\.numeric\.pipe/);
  assert.match(scopeOf(tokens, '2.5E+3'), /constant\.numeric\.pipe/);
  assert.match(scopeOf(tokens, '1e3Gi'), /constant\.numeric\.unit/);
});

test('every example tokenizes', async () => {
  const g = await grammar();
  const examples = join(root, 'examples');
  let files = 0;
  for (const name of readdirSync(examples)) {
    const file = join(examples, name, 'pipeline.pipe');
    if (!statSync(join(examples, name)).isDirectory()) continue;
    const tokens = tokenize(g, readFileSync(file, 'utf8'));
    assert.ok(tokens.some((t) => t.scopes.some((s) => s.startsWith('storage.type.stage'))), `${name}: no stage scoped`);
    assert.ok(!tokens.some((t) => t.scopes.some((s) => s.startsWith('invalid'))), `${name}: invalid tokens`);
    files++;
  }
  assert.ok(files >= 4);
});
