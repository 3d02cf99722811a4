// Drives LaunchDarkly's official Node server-side SDK against a flagward server.
//
// Environment: FLAGWARD_URL (base, stream and events URI), FLAGWARD_SDK_KEY, FLAGWARD_STREAM ("false": poll).
// Prints {"initialized": bool} once the SDK is ready (or gave up), then reads one JSON command per line
// on stdin and answers each with one JSON line on stdout:
//   {"evaluate": {"flagKey": "...", "context": {...}, "default": ...}} -> {"value", "variationIndex", "reason"}
// and exits when stdin closes.
import { createInterface } from 'node:readline';
import { basicLogger, init } from '@launchdarkly/node-server-sdk';

const base = process.env.FLAGWARD_URL;
const client = init(process.env.FLAGWARD_SDK_KEY, {
  baseUri: base,
  streamUri: base,
  eventsUri: base,
  stream: process.env.FLAGWARD_STREAM !== 'false',
  diagnosticOptOut: true,
  logger: basicLogger({ level: 'warn', destination: (line) => process.stderr.write(`${line}\n`) }),
});

const say = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

try {
  await client.waitForInitialization({ timeout: 10 });
} catch (error) {
  process.stderr.write(`initialization failed: ${error}\n`);
}
say({ initialized: client.initialized() });

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  if (command.evaluate) {
    const { flagKey, context, default: fallback } = command.evaluate;
    const detail = await client.variationDetail(flagKey, context, fallback);
    say({ value: detail.value, variationIndex: detail.variationIndex ?? null, reason: detail.reason });
  }
}
client.close();
