import { createServer } from 'node:net';

/** A local port that was free a moment ago: nothing listens there, so connecting is refused. */
export async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
