// Package export turns a stored crawl into output. It owns
//
//   - the JSON exports: each URL's newest record, or every version, as JSON
//     Lines or one JSON array (ExportSelected, ExportAllVersions), with
//     filters and a field list (Selection); the records of several
//     databases merged into one stream (ExportMerged); what a salvage could
//     read of a damaged database (ExportSalvaged);
//   - WARC 1.1 files with revisit records (ExportWARC), CDXJ indexes of them
//     (IndexWARC) and WACZ archives (ExportWACZ);
//   - the summary that crawl stats prints (Summarize), near-duplicate
//     clusters by SimHash included;
//   - the main text of an HTML page, without its boilerplate (MainText), for
//     crawl export's computed field main_text.
//
// It reads a database only through package store's exported API (Store.View
// and its Snapshot, Store.ForEachPage, Salvaged) and never writes to one;
// store never imports it. The JSON of a record is store's (the export
// schema is the stored record): with no filter and no field list, the
// stored bytes are written as they are.
package export
