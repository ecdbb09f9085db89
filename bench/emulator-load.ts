/**
 * The emulator's throughput on loopback under autocannon, beside a bare node:http server
 * answering 204 (the ceiling).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { startEmulator } from '../src/index.js';

export interface LoadResult {
  target: string;
  requestsPerSecond: number;
  p99LatencyMs: number;
}

async function load(url: string, durationS: number): Promise<{ rps: number; p99: number }> {
  const result = await autocannon({
    url,
    connections: 32,
    duration: durationS,
    headers: { authorization: 'XBL3.0 x=1;bench', 'content-type': 'application/json' },
  });
  return { rps: result.requests.average, p99: result.latency.p99 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function runEmulatorLoad(runs = 3, durationS = 5): Promise<LoadResult[]> {
  const emulator = await startEmulator({ port: 0, host: '127.0.0.1', rateLimits: false });
  const bare = createServer((_req, res) => {
    res.writeHead(204);
    res.end();
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`;
  const targets: [string, string][] = [
    ['emulator: GET activity (204)', `${emulator.url}/titles/1234567890/users/2533274800000001/activities`],
    ['bare node:http 204 (ceiling)', bareUrl],
  ];
  const out: LoadResult[] = [];
  for (const [target, url] of targets) {
    const samples = [];
    for (let i = 0; i < runs; i++) samples.push(await load(url, durationS));
    out.push({ target, requestsPerSecond: median(samples.map((s) => s.rps)), p99LatencyMs: median(samples.map((s) => s.p99)) });
  }
  await emulator.close();
  await new Promise((resolve) => bare.close(resolve));
  return out;
}
