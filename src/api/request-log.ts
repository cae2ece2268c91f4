// The line logged when a request carrying x-request-id arrives; tests count these to spot retries.

export interface RequestLogFields {
  id: string;
  method: string;
  path: string;
}

/** Undefined when the request has no usable x-request-id header (nothing is logged then). */
export function requestLogFields(header: string | string[] | undefined, method: string, url: string): RequestLogFields | undefined {
  const id = Array.isArray(header) ? header[0] : header;
  if (!id) return undefined;
  const query = url.indexOf("?");
  return { id, method, path: query === -1 ? url : url.slice(0, query) };
}
