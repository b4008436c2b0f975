// Server-sent events read from a fetch response (EventSource cannot send a Bearer token).
// Both framings of the API come out as {type, data}: named events (`event: x` + `data: {...}`,
// the player stream) and data-only JSON objects `{"data": ..., "type": ...}` (chat, steer).

export function parseBlock(block) {
  let name = "";
  const lines = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") lines.push(value);
  }
  if (!lines.length) return null;
  let data;
  try {
    data = JSON.parse(lines.join("\n"));
  } catch {
    return null;
  }
  if (!name && data && typeof data === "object" && typeof data.type === "string") {
    return { type: data.type, data: data.data };
  }
  return { type: name || "message", data };
}

// Calls onEvent for each event until the stream ends, onEvent returns false, or signal aborts.
export async function readEvents(response, onEvent, signal) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const stop = () => reader.cancel().catch(() => {});
  if (signal) signal.addEventListener("abort", stop, { once: true });
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseBlock(block);
        if (event && onEvent(event) === false) {
          stop();
          return;
        }
      }
    }
  } catch (exc) {
    if (signal && signal.aborted) return;
    throw exc;
  } finally {
    if (signal) signal.removeEventListener("abort", stop);
  }
}
