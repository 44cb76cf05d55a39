// HTML built with a tagged template that escapes every interpolated value unless it is already
// Html (made by this tag or by `raw`). Escaping is the default, so forgetting it is not possible.
import { esc } from '../platform/html.ts';

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type Part = Html | string | number | boolean | null | undefined | readonly Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false || part === true) return '';
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return part.map(render).join('');
  return esc(part);
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** Trusted markup only (never user input). */
export const raw = (markup: string) => new Html(markup);

/** A JSON value for a data-* attribute (escaped by the tag like any other string). */
export const jsonAttr = (value: unknown) => JSON.stringify(value);
