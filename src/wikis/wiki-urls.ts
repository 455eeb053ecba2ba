/** The public addresses of a wiki, derived from PUBLIC_URL (DESIGN §2). */

export interface WikiUrls {
  url: string;
  mcpUrl: string;
  gitUrl: string;
}

export function wikiUrls(publicUrl: URL, slug: string): WikiUrls {
  const origin = `${publicUrl.protocol}//${slug}.${publicUrl.host}`;
  return { url: `${origin}/`, mcpUrl: `${origin}/mcp`, gitUrl: `${origin}/repo.git` };
}
