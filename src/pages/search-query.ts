/**
 * The full-text query language we offer, and its translation into FTS5. User text never reaches
 * FTS5 as syntax: every term becomes a double-quoted string of plain words (the one FTS5 form in
 * which no character but `"` is special, https://sqlite.org/fts5.html#fts5_strings), and the
 * operators between terms are written by us. Anything else that looks like syntax (parentheses,
 * `col:` filters, NEAR, `^`, `+`) is read as the words it contains.
 */

/** Longer input is cut here (the REST and MCP edges already refuse more than 500 characters). */
export const MAX_QUERY_CHARS = 1000;
/** Terms (words, phrases, prefixes, exclusions) beyond this many are dropped. */
export const MAX_QUERY_TERMS = 16;
/** Words in one "phrase" beyond this many are dropped. */
export const MAX_PHRASE_WORDS = 16;
/**
 * A prefix must have at least this many characters. FTS5 answers `ab*` by merging the doclists
 * of every indexed word that starts with `ab` across all wikis before the wiki filter applies,
 * so very short prefixes cost in proportion to the whole platform, not to one wiki.
 */
export const MIN_PREFIX_CHARS = 3;

export interface SearchTerm {
  /** The term's words as the user wrote them (letters, digits and marks only). */
  words: string[];
  /** The last word is a prefix (`otter*`). */
  prefix: boolean;
}

export interface SearchQuery {
  /** All groups must match; within a group, any term may (OR). */
  groups: SearchTerm[][];
  /** No page containing any of these matches (`-word`, `NOT word`). */
  excluded: SearchTerm[];
  /**
   * The text held syntax we do not offer (parentheses, column filters, NEAR, `^`, an unbalanced
   * quote, an operator with nothing to act on), which was read as plain words or ignored.
   */
  interpretedAsPlainText: boolean;
  /** The query was longer than MAX_QUERY_CHARS or had more than MAX_QUERY_TERMS terms. */
  truncated: boolean;
}

type Lexeme =
  | { kind: "operator"; operator: "AND" | "OR" | "NOT" }
  | { kind: "term"; text: string; quoted: boolean; negated: boolean; prefix: boolean };

/** Characters FTS5's unicode61 tokenizer keeps in a token (categories L*, N*, Co; marks kept). */
const WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;
/** Characters that were FTS5 syntax, so a user who typed them expected more than plain words. */
const FTS_SYNTAX = /[(){}[\]:^+*]|^NEAR$/;

function lex(text: string): { lexemes: Lexeme[]; unbalancedQuote: boolean } {
  const lexemes: Lexeme[] = [];
  let unbalancedQuote = false;
  let index = 0;
  const isSpace = (char: string | undefined) => char !== undefined && /\s/.test(char);
  while (index < text.length) {
    if (isSpace(text[index])) {
      index++;
      continue;
    }
    let negated = false;
    if (text[index] === "-" && index + 1 < text.length && !isSpace(text[index + 1])) {
      negated = true;
      index++;
    }
    if (text[index] === '"') {
      let close = text.indexOf('"', index + 1);
      if (close === -1) {
        unbalancedQuote = true;
        close = text.length;
      }
      const phrase = text.slice(index + 1, close);
      index = close + 1;
      let prefix = false;
      while (text[index] === "*") {
        prefix = true;
        index++;
      }
      lexemes.push({ kind: "term", text: phrase, quoted: true, negated, prefix });
      continue;
    }
    let end = index;
    while (end < text.length && !isSpace(text[end]) && text[end] !== '"') end++;
    let word = text.slice(index, end);
    index = end;
    if (!negated && (word === "AND" || word === "OR" || word === "NOT")) {
      lexemes.push({ kind: "operator", operator: word });
      continue;
    }
    const prefix = /[^*]\*+$/.test(word);
    if (prefix) word = word.replace(/\*+$/, "");
    lexemes.push({ kind: "term", text: word, quoted: false, negated, prefix });
  }
  return { lexemes, unbalancedQuote };
}

/**
 * Reads user text: words (all must match), "exact phrases", OR between terms (binding tighter
 * than the implicit AND, so `otter sea OR river` is otter AND (sea OR river)), `-word` or
 * `NOT word` to exclude, and `prefix*`. AND, OR and NOT are operators only in capitals.
 */
export function parseSearchQuery(input: string): SearchQuery {
  let truncated = input.length > MAX_QUERY_CHARS;
  const { lexemes, unbalancedQuote } = lex(input.slice(0, MAX_QUERY_CHARS));
  let plain = unbalancedQuote;
  const groups: SearchTerm[][] = [];
  const excluded: SearchTerm[] = [];
  let termCount = 0;
  let pendingOr = false;
  let pendingNot = false;
  let lastExcluded = false;
  for (const lexeme of lexemes) {
    if (lexeme.kind === "operator") {
      if (lexeme.operator === "AND") {
        if (pendingOr || pendingNot) plain = true;
      } else if (lexeme.operator === "OR") {
        // OR needs a wanted term on its left: "-kelp OR x" has no meaning in FTS5 either.
        if (groups.length === 0 || pendingOr || pendingNot || lastExcluded) plain = true;
        else pendingOr = true;
      } else {
        if (pendingOr || pendingNot) plain = true;
        pendingOr = false;
        pendingNot = true;
      }
      continue;
    }
    if (!lexeme.quoted && FTS_SYNTAX.test(lexeme.text)) plain = true;
    let words: string[] = lexeme.text.match(WORD) ?? [];
    if (words.length === 0) {
      // Punctuation alone (`)`, `:`, `*`, an emoji) holds no word to search for.
      if (lexeme.text.length > 0 || lexeme.negated || lexeme.prefix) plain = true;
      continue;
    }
    if (words.length > MAX_PHRASE_WORDS) {
      words = words.slice(0, MAX_PHRASE_WORDS);
      truncated = true;
    }
    if (termCount === MAX_QUERY_TERMS) {
      truncated = true;
      break;
    }
    termCount++;
    const last = words[words.length - 1] ?? "";
    const prefix = lexeme.prefix && last.length >= MIN_PREFIX_CHARS;
    if (lexeme.prefix && !prefix) plain = true;
    const term: SearchTerm = { words, prefix };
    lastExcluded = lexeme.negated || pendingNot;
    if (lastExcluded) {
      // FTS5's NOT excludes from everything before it; "a OR NOT b" has no such meaning.
      if (pendingOr) plain = true;
      excluded.push(term);
    } else if (pendingOr) {
      groups[groups.length - 1]?.push(term);
    } else {
      groups.push([term]);
    }
    pendingOr = false;
    pendingNot = false;
  }
  if (pendingOr || pendingNot) plain = true;
  return { groups, excluded, interpretedAsPlainText: plain, truncated };
}

function ftsTerm(term: SearchTerm): string {
  return `"${term.words.join(" ").replaceAll('"', '""')}"${term.prefix ? " *" : ""}`;
}

function ftsAny(terms: readonly SearchTerm[]): string {
  const joined = terms.map(ftsTerm).join(" OR ");
  return terms.length === 1 ? joined : `(${joined})`;
}

/** The query as an FTS5 expression of quoted strings, or null when nothing must match. */
export function ftsExpression(query: SearchQuery): string | null {
  if (query.groups.length === 0) return null;
  const wanted = query.groups.map(ftsAny).join(" AND ");
  if (query.excluded.length === 0) return wanted;
  return `(${wanted}) NOT ${ftsAny(query.excluded)}`;
}

function describeTerm(term: SearchTerm): string {
  const text = term.words.join(" ");
  const quoted = term.words.length > 1 || /^(AND|OR|NOT)$/.test(text) ? `"${text}"` : text;
  return `${quoted}${term.prefix ? "*" : ""}`;
}

/** How the query was read, in our own syntax: `otter AND (sea OR river) AND NOT "sea lion"`. */
export function describeQuery(query: SearchQuery): string {
  const parts = query.groups.map((group) => {
    const joined = group.map(describeTerm).join(" OR ");
    return group.length === 1 ? joined : `(${joined})`;
  });
  for (const term of query.excluded) parts.push(`NOT ${describeTerm(term)}`);
  return parts.join(" AND ");
}
