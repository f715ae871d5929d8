import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

/**
 * A Node HTTP server for tests on a free loopback port. A handler that throws
 * drops its connection (after logging under `name`): the test sees a reset,
 * never a hang.
 */
export async function startLoopbackServer(
  name: string,
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    handle(request, response).catch((error) => {
      console.error(`${name} failed`, error);
      response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
