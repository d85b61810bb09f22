// Starts `pipe lsp` for .pipe files.
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('pipe').get('server.path', 'pipe');
  client = new LanguageClient(
    'pipe',
    'pipe',
    { command, args: ['lsp'] },
    { documentSelector: [{ scheme: 'file', language: 'pipe' }] },
  );
  context.subscriptions.push(client);
  client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
