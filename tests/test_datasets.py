import gzip
import hashlib
import os

import numpy as np
import pandas as pd
import pytest

from gluonrec.data import (Ratings, detect_movielens, load_jester, load_jester_jokes,
                           load_movielens, load_triples, random_split)


def test_jester_dat_csv_and_gzip_agree(jester_files, tmp_path):
    dat = load_jester(jester_files['dat'])
    csv = load_jester(jester_files['csv'])
    gz = tmp_path / 'r.dat.gz'
    gz.write_bytes(gzip.compress(jester_files['dat'].read_bytes()))
    zipped = load_jester(gz)
    for other in (csv, zipped):
        np.testing.assert_array_equal(dat.user, other.user)
        np.testing.assert_array_equal(dat.item, other.item)
        np.testing.assert_array_equal(dat.rating, other.rating)
    assert (len(dat), dat.num_users, dat.num_items) == (7, 3, 4)
    assert dat.scale == (-10.0, 10.0)
    assert dat.user.dtype == np.int32 and dat.rating.dtype == np.float32
    assert dat.item_map.to_raw(dat.item).tolist() == [5, 7, 8, 5, 7, 150, 5]
    assert dat.rating[5] == pytest.approx(9.999)


def test_raw_and_inner_ids_stay_apart(jester_files):
    r = load_jester(jester_files['dat'])
    assert r.item_map.to_inner(150) == 3
    assert r.item_map.to_inner('150') == 3  # a command-line string finds an int id
    with pytest.raises(KeyError, match='unknown item 6'):
        r.item_map.to_inner(6, 'item')
    assert r.to_dataframe()['item'].tolist()[:3] == [5, 7, 8]
    assert r.item_map.canonical('150') == 150 and isinstance(r.item_map.canonical('7'), int)
    assert r.item_map.canonical('6') is None and r.user_map.canonical('x', 'none') == 'none'


def test_jokes_multi_paragraph_and_html_stripped(jester_files):
    jokes = load_jester_jokes(jester_files['jokes'])
    assert sorted(jokes) == [1, 5, 7, 8, 150]
    assert jokes[1].count('\n\n') == 1 and jokes[1].startswith('A tester walks')
    assert jokes[5] == "Q. What's a parser's favourite meal? A. Tokens & trees."
    assert '<' not in jokes[5] and '&amp;' not in jokes[5]
    assert jokes[150] == 'The last joke.'


@pytest.mark.parametrize('content, message', [
    ('1\t\t5\t\t0.2\n1\t\t7\n', 'line 2: expected 3 fields, found 2'),
    ('1\t\t5\t\t0.2\n1\t\t7\t\t0.1\t\t4\n', 'line 2: expected 3 fields'),
    ('1\t\t5\t\t0.2\n\n2\t\t5\t\tfunny\n', "line 3: rating 'funny' is not a number"),
    ('1\t\t5\t\tnan\n', 'line 1: rating is NaN'),
    ('1\t\t5\t\t0.2\n2\t\t5\t\t10.5\n', 'line 2: rating 10.5 lies outside the scale'),
    ('x\t\t5\t\t0.2\n', "line 1: user id 'x' is not an integer"),
])
def test_bad_lines_named_with_file_and_line(tmp_path, content, message):
    path = tmp_path / 'bad.dat'
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        load_jester(path)
    assert str(path) in str(info.value)


def test_empty_file(tmp_path):
    path = tmp_path / 'empty.dat'
    path.write_text('\n')
    with pytest.raises(ValueError, match='empty'):
        load_jester(path)


def test_skip_bad_lines_on_request(tmp_path, caplog):
    path = tmp_path / 'some_bad.dat'
    path.write_text('1\t\t5\t\t0.2\n2\t\t5\t\tfunny\n3\t\t7\t\t1\n4\t\t7\t\t11\n')
    with caplog.at_level('WARNING'):
        r = load_jester(path, on_bad_lines='skip')
    assert len(r) == 2 and r.user_map.to_list() == [1, 3]
    assert 'skipped 2 bad lines' in caplog.text


def _write_ml100k(folder):
    folder.mkdir()
    (folder / 'u.data').write_text('196\t242\t3\t881250949\n186\t302\t3\t891717742\n'
                                   '22\t242\t1\t878887116\n')
    (folder / 'u.item').write_bytes(
        '242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/M/title-exact?Kolya|0|0\n'
        '302|\xc1 k\xf6ldum klaka (Cold Fever) (1994)|01-Jan-1994||x|0|0\n'
        .encode('latin-1'))
    return folder


def test_movielens_100k(tmp_path):
    folder = _write_ml100k(tmp_path / 'ml-100k')
    assert detect_movielens(folder) == 'ml-100k'
    r = load_movielens(folder)
    assert (len(r), r.num_users, r.num_items, r.scale) == (3, 3, 2, (1.0, 5.0))
    assert r.item_names[302] == 'Á köldum klaka (Cold Fever) (1994)'
    assert r.timestamp.tolist() == [881250949, 891717742, 878887116]
    assert len(load_movielens(folder / 'u.data')) == 3


def test_movielens_1m_and_latest(tmp_path):
    one = tmp_path / 'ml-1m'
    one.mkdir()
    (one / 'ratings.dat').write_text('1::1193::5::978300760\n1::661::3::978302109\n')
    (one / 'movies.dat').write_bytes('1193::One Flew Over the Cuckoo\'s Nest (1975)::Drama\n'
                                     '661::Caf\xe9 (1996)::Comedy\n'.encode('latin-1'))
    r = load_movielens(one)
    assert r.name == 'ml-1m' and r.item_names[661] == 'Café (1996)'
    latest = tmp_path / 'ml-latest-small'
    latest.mkdir()
    (latest / 'ratings.csv').write_text('userId,movieId,rating,timestamp\n1,1,4.0,964982703\n'
                                        '1,3,4.5,964981247\n2,1,0.5,964982224\n')
    (latest / 'movies.csv').write_text('movieId,title,genres\n1,Toy Story (1995),Comedy\n'
                                       '3,"Grumpier Old Men, The (1995)",Comedy|Romance\n')
    r = load_movielens(latest)
    assert r.name == 'ml-latest' and r.scale == (0.5, 5.0)
    assert r.item_names[3] == 'Grumpier Old Men, The (1995)'
    with pytest.raises(ValueError, match='not a MovieLens folder'):
        load_movielens(tmp_path)


def test_triples_file_and_dataframe(tmp_path):
    path = tmp_path / 'x.txt'
    path.write_text('alice;b1;2\nbob;b2;4\nalice;b2;5\n')
    r = load_triples(path, sep=';', scale=(1, 5))
    assert r.user_map.to_list() == ['alice', 'bob'] and len(r) == 3
    frame = pd.DataFrame({'u': [10, 11], 'i': ['a', 'b'], 'r': [1.0, 2.0]})
    r = load_triples(frame, columns=('u', 'i', 'r'))
    assert r.item_map.to_list() == ['a', 'b'] and r.scale == (1.0, 2.0)
    frame.loc[1, 'r'] = np.nan
    with pytest.raises(ValueError, match='row 1'):
        load_triples(frame, columns=('u', 'i', 'r'))
    with pytest.raises(ValueError, match='line 2'):
        path.write_text('a::b::1\na::c\n')
        load_triples(path, sep='::')


def test_ratings_rejects_out_of_range_inner_ids():
    with pytest.raises(ValueError, match='inner user ids'):
        Ratings([0, 2], [0, 0], [1, 2], [10, 11], [5], (1, 5))


def test_real_jester_sample(shared_data):
    r = load_jester(os.path.join(shared_data, 'jester', 'ratings.dat.gz'))
    assert (len(r), r.num_users, r.num_items) == (363209, 5000, 100)
    assert r.rating.min() == pytest.approx(-9.95) and r.rating.max() == pytest.approx(9.9)
    jokes = load_jester_jokes(os.path.join(shared_data, 'jester', 'jester_items.dat'))
    assert len(jokes) == 150
    # joke 10, the blog's example, as a digest: the texts may not be copied into the repo
    assert hashlib.md5(jokes[10].encode()).hexdigest() == '1469a19e9f46162cee50a4dc1a9d73b5'
    ds2 = load_jester(os.path.join(shared_data, 'jester', 'ds2-sample', 'jester_ratings.csv'))
    assert (len(ds2), ds2.num_users, ds2.num_items) == (38217, 906, 140)


def test_real_movielens_100k(shared_data):
    r = load_movielens(os.path.join(shared_data, 'ml-100k'))
    assert (len(r), r.num_users, r.num_items) == (100000, 943, 1682)
    assert np.bincount(r.rating.astype(int))[1:].tolist() == [6110, 11370, 27145, 34174, 21201]
    assert r.item_names[1] == 'Toy Story (1995)'


# Odd and corrupt files: every value is read exactly as written or refused with its
# file and line.

JESTER_LINES = '1\t\t5\t\t3.5\n1\t\t7\t\t-2.0\n2\t\t5\t\t9.0\n'


def _gzip_corrupt_in_the_middle(path):
    import gzip
    data = gzip.compress(('1\t\t5\t\t3.5\n' * 20000).encode())
    middle = len(data) // 2
    path.write_bytes(data[:middle] + bytes(b ^ 0xff for b in data[middle:middle + 64])
                     + data[middle + 64:])


@pytest.mark.parametrize('make, error, message', [
    (lambda p: p.mkdir(), IsADirectoryError, 'is a directory, not a file'),
    (lambda p: p.write_bytes(bytes(range(256)) * 4), ValueError,
     'line 1: a NUL byte; this is a binary file'),
    (lambda p: p.write_bytes(b'1\t\t5\t\t3.5\n2\t\t5\t\t3.0\xe9\n'), ValueError,
     r'line 2: byte 0xe9 is not utf-8 text'),
    (lambda p: p.write_text('userId,jokeId,rating\n'), ValueError,
     'holds a header line but no ratings'),
    (_gzip_corrupt_in_the_middle, ValueError, 'corrupt gzip file'),
    (lambda p: p.write_text('1\t\t5\t\tinf\n'), ValueError, 'line 1: rating inf is not a finite'),
    (lambda p: p.write_text('1\t\t5\t\t1e400\n'), ValueError, 'line 1: rating 1e400'),
    (lambda p: p.write_text('1\t\t5\t\t3\n\n1\t\t5\t\t4\n'), ValueError,
     'line 1 and line 3 both rate user 1, item 5'),
    (lambda p: p.write_text('1.0\t\t5\t\t3\n'), ValueError, "user id '1.0' is not an integer"),
    (lambda p: p.write_text('NA\t\t5\t\t3\n'), ValueError, "user id 'NA' is not an integer"),
    (lambda p: p.write_text('True\t\t5\t\t3\n'), ValueError, "user id 'True' is not an integer"),
    # These used to be merged into user 7 (07, +7) or stored as -1 (2^64 - 1) silently,
    # or refused without a line number (beyond 2^64).
    (lambda p: p.write_text('7\t\t5\t\t3\n07\t\t6\t\t3\n'), ValueError,
     "line 2: user id '07' is not written as a plain integer"),
    (lambda p: p.write_text('7\t\t5\t\t3\n8\t\t+6\t\t3\n'), ValueError,
     "line 2: item id '\\+6' is not written as a plain integer"),
    (lambda p: p.write_text('7\t\t5\t\t3\n18446744073709551615\t\t5\t\t3\n'), ValueError,
     "line 2: user id '18446744073709551615' lies outside the 64-bit integer range"),
    (lambda p: p.write_text('7\t\t5\t\t3\n9223372036854775808\t\t5\t\t3\n'), ValueError,
     "line 2: user id '9223372036854775808' lies outside the 64-bit"),
    (lambda p: p.write_text('7\t\t5\t\t3\n184467440737095516150\t\t5\t\t3\n'), ValueError,
     "line 2: user id '184467440737095516150' lies outside the 64-bit"),
])
def test_jester_odd_files_are_refused_by_name(tmp_path, make, error, message):
    path = tmp_path / 'jester_ratings.dat'
    make(path)
    with pytest.raises(error, match=message) as caught:
        load_jester(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize('bom, encoding', [(b'\xef\xbb\xbf', 'utf-8'),
                                           (b'', 'utf-16')])
def test_byte_order_marks_are_read_not_kept(tmp_path, bom, encoding):
    plain = tmp_path / 'plain.dat'
    plain.write_text(JESTER_LINES)
    marked = tmp_path / 'marked.dat'
    marked.write_bytes(bom + JESTER_LINES.encode(encoding))  # utf-16 writes its own BOM
    a, b = load_jester(plain), load_jester(marked)
    assert a.user_map.raw_ids.tolist() == b.user_map.raw_ids.tolist() == [1, 2]
    np.testing.assert_array_equal(a.rating, b.rating)
    csv = tmp_path / 'ratings.csv'
    csv.write_bytes(bom + 'user,item,rating\nu1,i1,3\n'.encode(encoding))
    r = load_triples(csv)
    assert r.user_map.raw_ids.tolist() == ['u1']


def test_duplicate_policies_and_no_twin_across_a_split(tmp_path):
    path = tmp_path / 'dup.dat'
    path.write_text('1\t\t5\t\t3\n2\t\t5\t\t1\n1\t\t5\t\t4\n' +
                    ''.join(f'{u}\t\t{i}\t\t2\n' for u in range(3, 30) for i in (5, 6)))
    last = load_jester(path, duplicates='last')
    mean = load_jester(path, duplicates='mean')
    pick = lambda r: r.rating[(r.user == r.user_map.to_inner(1)) &  # noqa: E731
                              (r.item == r.item_map.to_inner(5))].tolist()
    assert pick(last) == [4.0] and pick(mean) == [3.5]
    train, test = random_split(mean, 0.3, seed=0)
    pairs = lambda r: set(zip(r.user.tolist(), r.item.tolist()))  # noqa: E731
    assert not pairs(train) & pairs(test) and len(mean) == len(pairs(mean))
    with pytest.raises(ValueError, match='duplicates must be one of'):
        load_jester(path, duplicates='first')
    frame = pd.DataFrame({'user': [1, 1, 2], 'item': [5, 5, 5], 'rating': [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match='row 0 and row 1 both rate user 1, item 5'):
        load_triples(frame)
    assert len(load_triples(frame, duplicates='mean')) == 2


def test_plain_ids_at_the_ends_of_int64_and_signed_ratings_are_read(tmp_path):
    path = tmp_path / 'jester_ratings.dat'
    path.write_text('9223372036854775807\t\t5\t\t+3\n-9223372036854775808\t\t0\t\t-0.5\n'
                    '0\t\t5\t\t0.25\n')
    r = load_jester(path)
    assert r.user_map.raw_ids.tolist() == [-2 ** 63, 0, 2 ** 63 - 1]
    assert sorted(r.rating.tolist()) == [-0.5, 0.25, 3.0]


def test_finite_ratings_beyond_float32_are_refused_naming_the_line(tmp_path):
    """1e308 used to load (as inf in float32) and be reported as "NaN or infinite"."""
    path = tmp_path / 't.csv'
    path.write_text('1,10,3\n2,11,1e308\n')
    with pytest.raises(ValueError, match=r't.csv, line 2: rating 1e308 lies beyond the '
                                         'float32 range'):
        load_triples(path)
    with pytest.raises(ValueError, match='row 1: rating 1e\\+308 lies beyond the float32'):
        load_triples(pd.DataFrame({'user': [1, 2], 'item': [1, 2], 'rating': [1, 1e308]}))


def test_ids_beyond_int64_stay_text_where_ids_may_be_text(tmp_path):
    path = tmp_path / 't.csv'
    path.write_text('1,10,3\n18446744073709551615,11,4\n')
    assert load_triples(path).user_map.raw_ids.tolist() == ['1', '18446744073709551615']
    big = np.array([1, 2 ** 64 - 1], dtype=np.uint64)
    with pytest.raises(ValueError, match='row 1: user id 18446744073709551615 lies outside'):
        load_triples(pd.DataFrame({'user': big, 'item': [1, 2], 'rating': [1, 2]}))


def test_triples_ids_are_read_as_written(tmp_path):
    path = tmp_path / 't.csv'
    path.write_text('user,item,rating\nNA,1.0,3\nTrue,07,4\nNA,1,5\n')
    r = load_triples(path)
    assert r.user_map.raw_ids.tolist() == ['NA', 'True']
    assert r.item_map.raw_ids.tolist() == ['07', '1', '1.0']  # three different items
    path.write_text('user,item,rating\n1,10,3\n2,11,4\n')
    assert load_triples(path).user_map.raw_ids.dtype == np.int64
    path.write_text('user,item,rating\n1,10,inf\n2,11,4\n')
    with pytest.raises(ValueError, match='line 2: rating inf is not a finite number'):
        load_triples(path)
    for column, message in ((np.array([1.5, 2.0]), 'user id 1.5 is not an integer'),
                            (np.array([True, False]), 'user ids are booleans')):
        with pytest.raises(ValueError, match=message):
            load_triples(pd.DataFrame({'user': column, 'item': [1, 2], 'rating': [1, 2]}))


def test_movielens_folder_odd_files(tmp_path):
    folder = tmp_path / 'ml'
    folder.mkdir()
    (folder / 'ratings.csv').write_text('userId,movieId,rating,timestamp\n')
    with pytest.raises(ValueError, match='ratings.csv: holds a header line but no ratings'):
        load_movielens(folder)
    (folder / 'ratings.csv').write_bytes(b'\xef\xbb\xbfuserId,movieId,rating,timestamp\n'
                                         b'1,2,3.5,100\n1,2,4.0,200\n')
    with pytest.raises(ValueError, match='line 2 and line 3 both rate user 1, item 2'):
        load_movielens(folder)
    r = load_movielens(folder, duplicates='last')
    assert r.rating.tolist() == [4.0] and r.timestamp.tolist() == [200]
