/** A column heading: its text, right-aligned for figures, or read to screen readers only (a column of buttons). */
export type Column = string | { text: string; num?: boolean; srOnly?: boolean };

/** A table's `<thead>`: one row of `scope="col"` headings. */
export function TableHead(props: { columns: readonly Column[] }) {
  return (
    <thead>
      <tr>
        {props.columns.map((c, i) => {
          const col = typeof c === 'string' ? { text: c } : c;
          return (
            <th key={i} scope="col" class={col.num ? 'num' : undefined}>
              {col.srOnly ? <span class="sr-only">{col.text}</span> : col.text}
            </th>
          );
        })}
      </tr>
    </thead>
  );
}
