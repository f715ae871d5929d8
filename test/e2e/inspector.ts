/**
 * Watches a `wrangler dev` Worker through its inspector (Chrome DevTools
 * protocol) for what the runtime reports only there: uncaught exceptions,
 * such as workerd's "Promise will never complete" for a request that awaited
 * another request's promise, and console warnings and errors.
 */
import WebSocket from "ws";

export type RuntimeReports = {
  /** Exception descriptions and `console.warn`/`console.error` first arguments, in order. */
  seen: () => string[];
  close: () => void;
};

export async function watchRuntime(inspectorPort: number): Promise<RuntimeReports> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const target = targets[0];
  if (!target) throw new Error(`no Worker behind the inspector on port ${inspectorPort}`);
  // wrangler's inspector proxy refuses a socket without an Origin of its own.
  const socket = new WebSocket(target.webSocketDebuggerUrl, { headers: { origin: `http://127.0.0.1:${inspectorPort}` } });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  const seen: string[] = [];
  const enabled = new Promise<void>((resolve) => {
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as { id?: number; method?: string; params?: Record<string, any> };
      if (message.id === 1) resolve();
      if (message.method === "Runtime.exceptionThrown") {
        const details = message.params?.exceptionDetails;
        seen.push(String(details?.exception?.description ?? details?.text));
      }
      if (message.method === "Runtime.consoleAPICalled" && (message.params?.type === "warning" || message.params?.type === "error")) {
        seen.push(`console.${message.params.type}: ${String(message.params.args?.[0]?.value ?? "")}`);
      }
    });
  });
  socket.send(JSON.stringify({ id: 1, method: "Runtime.enable" }));
  await enabled;
  return { seen: () => [...seen], close: () => socket.close() };
}
