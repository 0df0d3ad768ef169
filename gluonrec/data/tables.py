"""Reading delimited rating files exactly: the core every data set module reads its files
with (``Table``, ``load_table``), and ``load_triples`` for any (user, item, rating) file.

Each line is checked (field count, ids, a finite rating on the scale) by a fast pandas
parse first and, only where that sees a problem, line by line, so a bad file is refused
naming its line; ids keep their raw form (``Ratings`` maps them to inner codes)."""
import codecs
import csv
import gzip
import io
import logging
import math
import os
import re
import zlib

import numpy as np
import pandas as pd

from .ratings import Ratings

__all__ = ['load_triples', 'Table', 'load_table', 'read_bytes', 'read_head', 'first_line',
           'decode_text']

logger = logging.getLogger(__name__)

FLOAT32_MAX = float(np.finfo(np.float32).max)  # Ratings and the iterators hold float32
_UNIT_SEP = '\x1f'  # stands in for multi-character separators so pandas' C parser applies


def _check_file(path):
    """Raise the right error for a path that is not a readable regular file."""
    if os.path.isdir(path):
        raise IsADirectoryError(f'{path}: is a directory, not a file')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')


def decode_text(path, data, encoding='utf-8'):
    """Bytes -> text, exactly: a byte-order mark is dropped (UTF-8, or UTF-16 which is
    then decoded as such); a NUL byte or bytes that are not ``encoding`` are an error
    naming the file and line, never replaced."""
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[len(codecs.BOM_UTF8):], 'utf-8'
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = 'utf-16'
    elif b'\x00' in data:
        line = data[:data.index(b'\x00')].count(b'\n') + 1
        raise ValueError(f'{path}, line {line}: a NUL byte; this is a binary file, not '
                         'delimited text')
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b'\n') + 1
        raise ValueError(f'{path}, line {line}: byte 0x{data[exc.start]:02x} is not '
                         f'{encoding} text (a binary file, or another encoding?)') from None


def read_bytes(path):
    path = os.fspath(path)
    _check_file(path)
    with open(path, 'rb') as handle:
        data = handle.read()
    if data[:2] == b'\x1f\x8b':
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f'{path}: corrupt gzip file ({exc})') from None
    if not data.strip():
        raise ValueError(f'{path}: file is empty')
    return data


class Table:
    """How a delimited rating file is laid out, for ``load_table``.

    Parameters
    ----------
    sep : str
        Field separator (multi-character ones such as MovieLens' ``::`` work).
    ncols : int
        Fields per line.
    user, item, rating, timestamp : int
        The fields' positions (``timestamp`` None: no timestamps).
    header : bool
        Whether the first line is a header.
    integer_ids : bool
        Require plain integer ids (in the int64 range) instead of reading them as text.
    encoding : str
    """

    def __init__(self, sep, ncols, user=0, item=1, rating=2, timestamp=None, header=False,
                 integer_ids=True, encoding='utf-8'):
        self.sep, self.ncols, self.header = sep, ncols, header
        self.cols = {'user': user, 'item': item, 'rating': rating}
        if timestamp is not None:
            self.cols['timestamp'] = timestamp
        self.integer_ids, self.encoding = integer_ids, encoding


def _check_line(fields, table, scale):
    """Return why a split line is bad, or None."""
    if len(fields) != table.ncols:
        return f'expected {table.ncols} fields, found {len(fields)}'
    for key in ('user', 'item'):
        value = fields[table.cols[key]].strip()
        if not value:
            return f'empty {key} id'
        if table.integer_ids:
            problem = _integer_id_problem(value)
            if problem:
                return f'{key} id {value!r} {problem}'
    text = fields[table.cols['rating']].strip()
    try:
        rating = float(text)
    except ValueError:
        return f'rating {text!r} is not a number'
    if math.isnan(rating):
        return 'rating is NaN'
    if math.isinf(rating):
        return f'rating {text} is not a finite number'
    if abs(rating) > FLOAT32_MAX:
        return f'rating {text} lies beyond the float32 range ratings are kept in'
    if scale is not None and not scale[0] <= rating <= scale[1]:
        return f'rating {text} lies outside the scale [{scale[0]:g}, {scale[1]:g}]'
    if 'timestamp' in table.cols:
        stamp = fields[table.cols['timestamp']].strip()
        if not stamp.lstrip('-').isdigit():
            return f'timestamp {stamp!r} is not an integer'
    return None


def _bad_lines(path, text, table, scale):
    """Slow pass, only taken when the fast parse saw a problem: (line_no, reason) pairs."""
    bad = []
    lines = text.splitlines()
    start = 1 if table.header else 0
    sep = _UNIT_SEP if len(table.sep) > 1 else table.sep
    reader = csv.reader(lines[start:], delimiter=sep, quotechar='"')
    for offset, fields in enumerate(reader):
        if not fields or not ''.join(fields).strip():
            continue
        reason = _check_line(fields, table, scale)
        if reason:
            bad.append((start + offset + 1, reason))
    return bad


def _fast_parse(text, table):
    sep = table.sep if len(table.sep) == 1 else _UNIT_SEP
    # Ids are read as written: text unless integers are required ("NA", "1.0" and
    # "True" stay those strings); only an empty field is missing.
    ids = None if table.integer_ids else {table.cols['user']: str, table.cols['item']: str}
    frame = pd.read_csv(io.StringIO(text), sep=sep, header=0 if table.header else None,
                        engine='c', skip_blank_lines=True, on_bad_lines='error',
                        keep_default_na=False, na_values=[''], dtype=ids)
    if frame.shape[1] != table.ncols:
        raise ValueError('field count')
    columns = {key: frame.iloc[:, index] for key, index in table.cols.items()}
    return columns


def _columns_ok(columns, table, scale):
    rating = columns['rating']
    if rating.dtype.kind not in 'fi' or rating.isna().any():
        return False
    for key in ('user', 'item'):
        ids = columns[key]
        if ids.isna().any() or (table.integer_ids and ids.dtype.kind != 'i'):  # 'u': > 2^63
            return False
    if 'timestamp' in columns and columns['timestamp'].dtype.kind not in 'iu':
        return False
    values = rating.to_numpy()
    if not np.isfinite(values).all() or (np.abs(values) > FLOAT32_MAX).any():
        return False
    return scale is None or bool(((values >= scale[0]) & (values <= scale[1])).all())


def load_table(path, table, scale, name, on_bad_lines='error', item_names=None,
               duplicates='error'):
    """Read a delimited rating file laid out as ``table`` into ``Ratings``.

    Parameters
    ----------
    path : str
        Plain or gzip-compressed text (a byte-order mark is dropped).
    table : Table
    scale : (float, float) or None
        Ratings outside it are errors; None: the data's range.
    name : str
        The ``Ratings.name`` (a declared data set's name lets ``family_of`` find it).
    on_bad_lines : {'error', 'skip'}
        Raise on the first bad line (naming file and line), or skip and log the count.
    item_names : dict, optional
    duplicates : {'error', 'last', 'mean'}
        A (user, item) pair on two lines: raise naming both lines, keep the last rating,
        or average them.

    Returns
    -------
    Ratings
    """
    if on_bad_lines not in ('error', 'skip'):
        raise ValueError(f"on_bad_lines must be 'error' or 'skip', got {on_bad_lines!r}")
    text = decode_text(path, read_bytes(path), table.encoding)
    if sum(1 for line in text.splitlines() if line.strip()) <= int(table.header):
        raise ValueError(f'{path}: holds a header line but no ratings')
    if len(table.sep) > 1:
        text = text.replace(table.sep, _UNIT_SEP)
    try:
        columns = _fast_parse(text, table)
        ok = _columns_ok(columns, table, scale)
    except (ValueError, pd.errors.ParserError):
        ok = False
    if ok and table.integer_ids and _maybe_noncanonical(text, table):
        # pandas reads "07" and "+7" as 7: such files take the line checks, which refuse them
        ok = not _bad_lines(path, text, table, scale)
    if not ok:
        bad = _bad_lines(path, text, table, scale)
        if not bad:  # the fast parser disagreed with the line checks: say so plainly
            raise ValueError(f'{path}: could not parse as {table.ncols} fields '
                             f'separated by {table.sep!r}')
        if on_bad_lines == 'error':
            line, reason = bad[0]
            more = f' ({len(bad) - 1} more bad lines)' if len(bad) > 1 else ''
            raise ValueError(f'{path}, line {line}: {reason}{more}')
        logger.warning('%s: skipped %d bad lines (first: line %d, %s)', path, len(bad),
                       bad[0][0], bad[0][1])
        skip = set(line - 1 for line, _ in bad)
        skipped = skip
        kept = [line for number, line in enumerate(text.splitlines()) if number not in skip]
        if len(kept) <= int(table.header):
            raise ValueError(f'{path}: no valid lines')
        columns = _fast_parse('\n'.join(kept), table)
    if len(columns['rating']) == 0:
        raise ValueError(f'{path}: file holds no ratings')
    skipped = skipped if not ok else ()
    if scale is None:
        values = columns['rating'].to_numpy()
        scale = (float(values.min()), float(values.max()))
        if scale[0] == scale[1]:
            scale = (scale[0] - 1.0, scale[1] + 1.0)
    stamp = columns['timestamp'].to_numpy() if 'timestamp' in columns else None
    user, item = (_exact_ids(columns[key].to_numpy()) for key in ('user', 'item'))
    user, item, rating, stamp = _duplicates(user, item, columns['rating'].to_numpy(), stamp,
                                            duplicates, lambda rows: _line_numbers(
                                                text, table, rows, skipped), path)
    return Ratings.from_raw(user, item, rating, scale, timestamp=stamp, name=name,
                            item_names=item_names)


_CANONICAL_INT = re.compile(r'^(0|-?[1-9][0-9]*)$')
INT64_RANGE = (-(1 << 63), (1 << 63) - 1)
DUPLICATES = ('error', 'last', 'mean')


def _integer_id_problem(text):
    """Why ``text`` is not an integer id as gluonrec keeps them, or None: a plain
    integer ("7"; not "07" or "+7", which would merge with 7) in the int64 range."""
    try:
        value = int(text)
    except ValueError:
        return 'is not an integer'
    if not _CANONICAL_INT.match(text):
        return 'is not written as a plain integer (a leading zero or sign would merge it ' \
               f'with id {value})'
    if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
        return 'lies outside the 64-bit integer range of ids'
    return None


def _maybe_noncanonical(text, table):
    """Whether some field of ``text`` starts with "+" or a leading zero (a cheap scan that
    may also hit a rating such as "+3"; the line checks then decide)."""
    sep = _UNIT_SEP if len(table.sep) > 1 else table.sep
    return re.search(rf'(?:^|{re.escape(sep)})[ \t]*(?:\+|-?0[0-9])', text, re.M) is not None


def _exact_ids(values):
    """Integer ids as int64; text ids that are all plain integers in the int64 range
    ("7", not "07", "7.0", "+7" or 2^64) as int64 too; any other text unchanged."""
    if values.dtype.kind in 'iu':
        return values.astype(np.int64)
    text = values.astype(str)
    if all(_CANONICAL_INT.match(v) and INT64_RANGE[0] <= int(v) <= INT64_RANGE[1]
           for v in pd.unique(text)):
        return text.astype(np.int64)
    return text.astype(object)


def _line_numbers(text, table, rows, skipped=()):
    """'line N' for data rows ``rows``: blank lines and ``skipped`` (0-based) lines were
    not parsed."""
    lines = [n for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and n - 1 not in skipped]
    return [f'line {lines[row + int(table.header)]}' for row in rows]


def _duplicates(user, item, rating, stamp, policy, where, source):
    """Apply the duplicate (user, item) policy: 'error' names both lines (or rows),
    'last' keeps the last rating, 'mean' averages them (and keeps the last timestamp).
    Deduplicating at load time means no twin can land in train and its copy in test."""
    if policy not in DUPLICATES:
        raise ValueError(f'duplicates must be one of {DUPLICATES}, got {policy!r}')
    frame = pd.DataFrame({'user': user, 'item': item})
    twins = frame.duplicated(keep=False).to_numpy()
    if not twins.any():
        return user, item, rating, stamp
    if policy == 'error':
        first = int(np.flatnonzero(twins)[0])
        same = np.flatnonzero(twins & (frame['user'].to_numpy() == user[first]) &
                              (frame['item'].to_numpy() == item[first]))
        a, b = where(same[:2])
        raise ValueError(f'{source}: {a} and {b} both rate user {user[first]!r}, item '
                         f'{item[first]!r} ({int(twins.sum())} duplicate ratings in all; '
                         "duplicates='last' or 'mean' resolves them)")
    pairs = len(frame[twins].drop_duplicates())
    frame['rating'] = rating
    if stamp is not None:
        frame['timestamp'] = stamp
    grouped = frame.groupby(['user', 'item'], sort=False)
    merged = grouped.last() if policy == 'last' else grouped.agg(
        {'rating': 'mean', **({'timestamp': 'last'} if stamp is not None else {})})
    merged = merged.reset_index()
    logger.warning('%s: %d duplicate ratings of %d (user, item) pairs resolved (%s)',
                   source, int(twins.sum()), pairs, policy)
    return (merged['user'].to_numpy(), merged['item'].to_numpy(),
            merged['rating'].to_numpy(),
            merged['timestamp'].to_numpy() if stamp is not None else None)


def read_head(path, size=65536):
    """The first ``size`` bytes of a plain or gzip file, decoded leniently; reads no more."""
    path = os.fspath(path)
    _check_file(path)
    with open(path, 'rb') as handle:
        gzipped = handle.read(2) == b'\x1f\x8b'
    try:
        with (gzip.open if gzipped else open)(path, 'rb') as handle:
            head = handle.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f'{path}: corrupt gzip file ({exc})') from None
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    return head.decode('utf-16' if utf16 else 'utf-8', 'replace').lstrip('\ufeff')


def first_line(path):
    return read_head(path).split('\n', 1)[0].rstrip('\r')


def load_triples(source, sep=',', columns=('user', 'item', 'rating'), header=None,
                 scale=None, name='ratings', on_bad_lines='error', integer_ids=False,
                 duplicates='error'):
    """Load any (user, item, rating) triples from a delimited file or a DataFrame.

    Parameters
    ----------
    source : str or pandas.DataFrame
    sep : str
        Field separator of a file (any string; multi-character ones are supported).
    columns : sequence of str
        Names of the fields in file order; must include 'user', 'item' and 'rating'
        and may include 'timestamp'; other names are read and ignored. For a
        DataFrame, the names of its user, item, rating (and timestamp) columns.
    header : bool, optional
        Whether a file's first line is a header; default: guessed from whether its
        rating field parses as a number.
    scale : (float, float), optional
        Declared rating scale; ratings outside it are errors. Default: the data's range.
    integer_ids : bool
        Require integer raw ids. Otherwise ids are read as written: text, except that a
        column of plain integers ("7", not "07" or "7.0") gives integer ids.
    duplicates : {'error', 'last', 'mean'}
        As in ``load_jester``.

    Returns
    -------
    Ratings
    """
    columns = list(columns)
    if isinstance(source, pd.DataFrame):
        return _from_dataframe(source, columns, scale, name, duplicates)
    missing = {'user', 'item', 'rating'} - set(columns)
    if missing:
        raise ValueError(f'columns must name user, item and rating; missing {sorted(missing)}')
    index = {key: columns.index(key) for key in ('user', 'item', 'rating', 'timestamp')
             if key in columns}
    if header is None:
        fields = first_line(source).split(sep)
        try:
            float(fields[index['rating']])
            header = False
        except (ValueError, IndexError):
            header = True
    table = Table(sep, len(columns), header=header, integer_ids=integer_ids, **index)
    return load_table(source, table, scale, name, on_bad_lines, duplicates=duplicates)


def _from_dataframe(frame, columns, scale, name, duplicates='error'):
    if len(columns) not in (3, 4):
        raise ValueError('for a DataFrame, columns names its user, item, rating '
                         f'(and timestamp) columns; got {columns}')
    names = dict(zip(('user', 'item', 'rating', 'timestamp'), columns))
    absent = [col for col in names.values() if col not in frame.columns]
    if absent:
        raise ValueError(f'DataFrame has no column(s) {absent}; it has {list(frame.columns)}')
    if len(frame) == 0:
        raise ValueError('DataFrame holds no ratings')
    rating = pd.to_numeric(frame[names['rating']], errors='coerce').to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(rating))
    if len(bad):
        raise ValueError(f'DataFrame row {frame.index[bad[0]]!r}: rating '
                         f'{frame[names["rating"]].iloc[bad[0]]!r} is not a finite number')
    bad = np.flatnonzero(np.abs(rating) > FLOAT32_MAX)
    if len(bad):
        raise ValueError(f'DataFrame row {frame.index[bad[0]]!r}: rating {rating[bad[0]]:g} '
                         'lies beyond the float32 range ratings are kept in')
    for key in ('user', 'item'):
        nulls = np.flatnonzero(frame[names[key]].isna().to_numpy())
        if len(nulls):
            raise ValueError(f'DataFrame row {frame.index[nulls[0]]!r}: missing {key} id')
    if scale is None:
        scale = (rating.min(), rating.max()) if rating.min() < rating.max() else \
            (rating.min() - 1, rating.max() + 1)
    outside = np.flatnonzero((rating < scale[0]) | (rating > scale[1]))
    if len(outside):
        raise ValueError(f'DataFrame row {frame.index[outside[0]]!r}: rating '
                         f'{rating[outside[0]]:g} lies outside the scale {tuple(scale)}')
    stamp = frame[names['timestamp']].to_numpy() if 'timestamp' in names else None
    user, item = (_frame_ids(frame[names[key]], key) for key in ('user', 'item'))
    user, item, rating, stamp = _duplicates(
        user, item, rating, stamp, duplicates,
        lambda rows: [f'row {frame.index[r]!r}' for r in rows], 'DataFrame')
    return Ratings.from_raw(user, item, rating, scale, timestamp=stamp, name=name)


def _frame_ids(column, key):
    """A DataFrame's id column as integers or strings, refusing what would change."""
    values = column.to_numpy()
    if values.dtype.kind == 'b':
        raise ValueError(f'DataFrame column {column.name!r}: {key} ids are booleans')
    if values.dtype.kind == 'f':
        whole = np.isfinite(values) & (values == np.round(values))
        if not whole.all():
            bad = np.flatnonzero(~whole)[0]
            raise ValueError(f'DataFrame row {column.index[bad]!r}: {key} id {values[bad]!r} '
                             'is not an integer')
    if values.dtype.kind in 'fu':
        outside = (values < INT64_RANGE[0]) | (values >= 2.0 ** 63) if values.dtype.kind == 'f' \
            else values > INT64_RANGE[1]
        if outside.any():
            bad = np.flatnonzero(outside)[0]
            raise ValueError(f'DataFrame row {column.index[bad]!r}: {key} id {values[bad]!r} '
                             'lies outside the 64-bit integer range of ids')
    if values.dtype.kind in 'iuf':
        return values.astype(np.int64)
    return np.asarray([v if isinstance(v, str) else str(v) for v in values], dtype=object)
