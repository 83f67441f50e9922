"""Reading patient tables from CSV, Excel, Parquet and SAS XPT files into cleaned text cells."""
