"""What the record owes the board: royalty statements (nhuận bút) and activity reports.

``royalty`` and ``activity`` read the record into tables; ``sheets`` writes tables as
XLSX and CSV, ``page`` as one self-contained HTML page with ``charts``; ``approval``
records the head's approval of a statement; ``mailing`` mails the activity report when a
period ends. Periods are read by ``periods``; the record by ``record``.
"""
