// What a spreadsheet file is read into before headers and mappings apply: numbered rows
// of cells, whatever the format.

/** A cell's value: text (trimmed, never empty) or a number. */
export type Cell = string | number;

/** A cell as read: a value, empty (null), or a spreadsheet error such as #N/A or #DIV/0!. */
export type RawCell = Cell | null | { error: string };

export interface RawRow {
  /** The row's number as a spreadsheet program shows it (1 = the first line or row). */
  row: number;
  cells: RawCell[];
}
