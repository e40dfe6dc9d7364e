// Spreadsheet imports (CSV and XLSX): the reader, cell schemas, saved column mappings,
// the HTTP import's runner and the kept import records. See read.ts and import.ts for use.
export { cellBool, cellInt, cellText } from "./cells.js";
export { runImport, formatOf, importErrorsPath, type ImportRequest, type ImportSpec, type ImportReply } from "./import.js";
export { getMapping, listMappings, mappingFor, putMapping, removeMapping, type ImportMapping, type SheetLayout } from "./mappings.js";
export { readSheet, headerKey, type Cell, type ReadSheetOptions, type RowError, type SheetFormat, type SheetResult, type SheetRow } from "./read.js";
export { errorsCsv, getImport, listImports, saveImport, type ImportRecord } from "./records.js";
