/**
 * A request URL as the log may show it. Some clients put a bearer token in the query
 * (`?access_token=…`, as OAuth 2.0's RFC 6750 2.3 allows elsewhere); the server never accepts one
 * there, but the request log would keep it. Only the values of the parameters the API defines are
 * kept; every other value is shown as ***.
 */
const shownParameters = new Set(["region", "live", "after", "include_deleted"]);

export function loggableUrl(url: string | undefined): string {
  if (!url) return "";
  const mark = url.indexOf("?");
  if (mark < 0) return url;
  const query = url
    .slice(mark + 1)
    .split("&")
    .map((pair) => {
      const equals = pair.indexOf("=");
      if (equals < 0) return pair;
      const name = pair.slice(0, equals);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, " "));
      } catch {
        // a malformed name is shown as sent, its value hidden
      }
      return shownParameters.has(decoded) ? pair : `${name}=***`;
    })
    .join("&");
  return `${url.slice(0, mark)}?${query}`;
}
