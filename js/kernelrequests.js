// Requests from a notebook widget's charts to its kernel (what only the kernel can read:
// every point of a metric), each answered by a message naming the request. The answer
// comes when the kernel is free; an error the kernel sends for a request rejects it.

/** The answers' message types. */
export const ANSWERS = ["metric_csv", "metric_range"];

/**
 * @param {{send: (content: object) => void}} model the widget's model
 * @param {number} [timeout] how long a request waits for its answer, in ms
 */
export function createKernelRequests(model, timeout = 120_000) {
  const pending = new Map(); // request id -> {resolve, reject}
  let requests = 0;

  /** Send `content`; resolves to `{msg, buffers}`, the kernel's answer. */
  function ask(content) {
    const request = ++requests;
    return new Promise((resolve, reject) => {
      pending.set(request, { resolve, reject });
      model.send({ ...content, request });
      setTimeout(() => {
        if (pending.delete(request)) reject(new Error("the kernel did not answer (busy?)"));
      }, timeout);
    });
  }

  /** A message from the kernel; true when it answered (or refused) a request. */
  function onMessage(msg, buffers) {
    if (!msg || !(ANSWERS.includes(msg.type) || (msg.type === "error" && pending.has(msg.request)))) return false;
    const waiting = pending.get(msg.request);
    if (waiting) {
      pending.delete(msg.request);
      if (msg.type === "error") waiting.reject(new Error(msg.text || "the kernel refused the request"));
      else waiting.resolve({ msg, buffers });
    }
    return true;
  }

  return { ask, onMessage };
}

/** The first binary buffer of an answer (a CSV's text) as a Blob of `type`. */
export function answerBlob(buffers, type = "text/csv;charset=utf-8") {
  const data = buffers?.[0];
  const bytes = data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array();
  return new Blob([bytes], { type });
}
