// The only place that listens: both listeners, the start-up banner, graceful shutdown.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from './app.ts';
import { serverFile, type Config } from './config.ts';

export async function serve(config: Config): Promise<void> {
  const app = await buildApp(config);
  await app.publicApp.listen({ port: config.port, host: config.host });
  await app.adminApp.listen({ port: config.adminPort, host: config.adminHost });
  const adminAddress = app.adminApp.server.address();
  const adminUrl = typeof adminAddress === 'object' && adminAddress
    ? `http://${adminAddress.family === 'IPv6' ? `[${adminAddress.address}]` : adminAddress.address}:${adminAddress.port}`
    : `http://${config.adminHost}:${config.adminPort}`;
  const embedded = app.ctx.database.kind === 'pglite' && config.databaseUrl !== 'memory://';
  if (embedded) writeFileSync(serverFile(config), JSON.stringify({ pid: process.pid, adminUrl }), { mode: 0o600 });

  const lines = [
    '',
    `  Keyturn is running (${app.ctx.database.kind === 'pglite' ? `embedded database in ${config.databaseUrl === 'memory://' ? 'memory' : config.dataDir}` : 'PostgreSQL'}, mail: ${app.ctx.transport.kind === 'smtp' ? 'SMTP' : 'dev mailbox'})`,
    `  Public URL:   ${config.publicUrl}`,
    `  Operator API: ${adminUrl}/admin/v1`,
  ];
  if (app.ctx.transport.kind === 'dev-mailbox') lines.push(`  Dev mailbox:  npx keyturn mailbox   (or ${config.publicUrl}/dev/mailbox)`);
  if (app.adminKeyIsNew) {
    lines.push(
      '',
      `  Operator key (shown once${config.databaseUrl === 'memory://' ? '' : `, kept in ${join(config.dataDir, 'admin-api-key')}`}):`,
      `    ${app.adminApiKey}`,
      '',
      '  First steps:',
      '    npx keyturn tenant create acme "ACME"',
      '    npx keyturn user create acme ann@example.com --password \'Sunny-Harbor-42!\' --role admin',
      `    curl -s ${config.publicUrl}/api/v1/login -H 'content-type: application/json' \\`,
      '      -d \'{"email":"ann@example.com","password":"Sunny-Harbor-42!"}\'',
    );
  }
  console.log(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.ctx.log.info({ signal }, 'shutting down: finishing requests in flight and the mail being sent');
    const deadline = setTimeout(() => process.exit(1), 10_000);
    deadline.unref();
    try {
      await app.close();
      if (embedded) rmSync(serverFile(config), { force: true });
    } finally {
      clearTimeout(deadline);
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
