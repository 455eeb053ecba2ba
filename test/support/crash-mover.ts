/**
 * Child process for the move crash test: moves a page with its attachments back and forth
 * between two paths (links and title rewritten, one commit each) through the real page store,
 * and prints `ack <json>` after each move returns. The parent SIGKILLs it at random moments.
 */
import { openStores } from "../../src/stores.ts";

const [dataDir = "", slug = ""] = Bun.argv.slice(2);
const { wikis, pages } = openStores(dataDir);
const wiki = wikis.findBySlug(slug);
if (wiki === null) throw new Error(`no wiki ${slug}`);
await pages.ensureReady(wiki);
process.stdout.write("ready\n");
const who = {
  author: { name: "Crash Test", email: "crash@users.wikibot.invalid" },
  client: "crash-test",
};
const PLACES = ["Shelf/Left", "Shelf/Right"];

for (;;) {
  const listed = new Set((await pages.list(wiki, "Shelf/")).map((page) => page.path));
  const from = PLACES.find((path) => listed.has(path));
  const to = PLACES.find((path) => path !== from);
  if (from === undefined || to === undefined) throw new Error("the page is in neither place");
  const moved = await pages.move(wiki, { ...who, from, to, updateLinks: true, updateTitle: true });
  process.stdout.write(`ack ${JSON.stringify({ to, revision: moved.revision })}\n`);
}
