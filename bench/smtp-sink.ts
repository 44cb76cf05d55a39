// A real SMTP server that accepts every message and keeps none: production refuses to run without
// SMTP_URL, and a bench should not spend its CPU parsing the mail it provokes.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export async function startSmtpSink(): Promise<string> {
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, _session, done) { stream.on('end', () => done()); stream.resume(); },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.server.unref();
  return `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
}
