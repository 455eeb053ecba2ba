/**
 * Rewrites links to a moved page, in the two forms Otterwiki renders: WikiLinks `[[Page]]` /
 * `[[Text|Page]]` (Otterwiki's default WIKILINK_STYLE puts the page on the right) and absolute
 * Markdown links `[text](/Page%20Name#anchor)`. Relative Markdown links are left alone: their
 * target depends on the page they sit on. Fenced code blocks are never touched. When the move
 * carries the page's attachments, their URLs (`/Page/a/file.png`, thumbnails `/Page/t/…`, images
 * included) follow them.
 * Page names compare case-insensitively: the store refuses two pages that differ only in case.
 */
import { fencedLines } from "./markdown.ts";

const WIKILINK = /\[\[([^\]\n]+)\]\]/g;
// [text](/target "optional title"); the `!` of images is checked by the caller.
const MARKDOWN_LINK = /(!?)\[([^\]\n]*)\]\((\/[^)\s]*)((?:\s+"[^"\n]*")?)\)/g;

function decodeOrNull(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** Otterwiki's attachment and thumbnail URLs: /<page>/a/<file>[/<rev>], /<page>/t/<file>[/<size>]. */
const ATTACHMENT_URL = /^(.+)\/([at])\/([^/]+(?:\/[^/]+)?)$/;

const encodePagePath = (path: string) => path.split("/").map(encodeURIComponent).join("/");

/** Rewrites one line; returns it unchanged when it holds no link to `from`. */
function rewriteLine(line: string, from: string, to: string, attachments: boolean): string {
  const target = from.toLowerCase();
  let result = line;
  if (result.includes("[[")) {
    result = result.replace(WIKILINK, (whole, inner: string) => {
      const pipe = inner.lastIndexOf("|");
      const title = pipe === -1 ? null : inner.slice(0, pipe);
      const link = pipe === -1 ? inner : inner.slice(pipe + 1);
      const slash = link.trimStart().startsWith("/") ? "/" : "";
      const [page = "", ...anchor] = link.trim().replace(/^\//, "").split("#");
      if (decodeOrNull(page.trim())?.toLowerCase() !== target) return whole;
      const newLink = `${slash}${to}${anchor.length > 0 ? `#${anchor.join("#")}` : ""}`;
      return `[[${title === null ? newLink : `${title}|${newLink}`}]]`;
    });
  }
  if (result.includes("](/")) {
    result = result.replace(
      MARKDOWN_LINK,
      (whole, bang: string, text: string, url: string, title: string) => {
        const [path = "", ...rest] = url.split(/(?=[#?])/);
        const decoded = decodeOrNull(path.slice(1));
        if (attachments && decoded !== null) {
          const attachment = ATTACHMENT_URL.exec(decoded);
          if (attachment?.[1]?.toLowerCase() === target) {
            const file = encodePagePath(attachment[3] ?? "");
            return `${bang}[${text}](/${encodePagePath(to)}/${attachment[2]}/${file}${rest.join("")}${title})`;
          }
        }
        if (bang === "!") return whole;
        if (decoded?.toLowerCase() !== target) return whole;
        return `[${text}](/${encodePagePath(to)}${rest.join("")}${title})`;
      },
    );
  }
  return result;
}

/**
 * `content` with every link to page `from` pointing at page `to` instead, and with
 * `attachments`, every link to one of its attachments too.
 */
export function rewriteLinks(
  content: string,
  from: string,
  to: string,
  attachments = false,
): string {
  if (!content.includes("[[") && !content.includes("](/")) return content;
  const lines = content.split("\n");
  const fenced = fencedLines(lines);
  let changed = false;
  const rewritten = lines.map((line, index) => {
    if (fenced[index]) return line;
    const next = rewriteLine(line, from, to, attachments);
    if (next !== line) changed = true;
    return next;
  });
  return changed ? rewritten.join("\n") : content;
}
