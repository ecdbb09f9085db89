/**
 * A bare node:http server on loopback that reads each request's body and answers 204: the
 * other end of the `fetch` reference (bench/process.ts), in a process of its own so that only
 * the client's CPU is counted. Prints its port on the first line of stdout.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(204);
    response.end();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
