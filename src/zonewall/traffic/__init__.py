"""Policy meets traffic: flow records read, mapped to the policy's classes and externals, and
judged by its effective flows (`zonewall replay`).

- `formats`   recognises a flow file (CSV with named columns, nfdump/pmacct CSV, Zeek
              `conn.log` TSV and JSON, kernel LOG lines, IOS ACL log lines, the aggregated
              table) and writes the SQL that reads it: every record becomes typed fields, or a
              reason why it cannot be read.
- `engine`    runs that SQL in DuckDB (imported lazily: `check` and `build` never load it),
              maps addresses to nodes with a range join against the policy's address
              intervals and aggregates; only aggregated rows reach Python.
- `replay`    judges each aggregated flow by the effective flows (`review.explain` decides
              which statement blocks it) and finds unused allows and violated assertions.
- `render`    text, JSON and Markdown.

The package sits beside `review` above the pipeline: it may use `compiler`, `dsl` and
`review`, never `cli`, and nothing below imports it.
"""
