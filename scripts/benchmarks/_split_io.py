"""The split files shared by compare.py and its runners in other virtual environments.

A split folder holds train.npz and test.npz (inner user, item ids; original-scale
ratings) and meta.json (scale, counts). Runners import nothing from gluonrec, so they
work in an environment that has only numpy and the tool being measured.
"""
import json
import os

import numpy as np


def write_split(folder, train, test, scale, num_users, num_items):
    os.makedirs(folder, exist_ok=True)
    for name, part in (('train', train), ('test', test)):
        np.savez(os.path.join(folder, name + '.npz'), user=part.user, item=part.item,
                 rating=part.rating)
    with open(os.path.join(folder, 'meta.json'), 'w') as out:
        json.dump({'scale': list(scale), 'num_users': num_users, 'num_items': num_items}, out)


def read_split(folder):
    parts = []
    for name in ('train', 'test'):
        with np.load(os.path.join(folder, name + '.npz'), allow_pickle=False) as data:
            parts.append({k: data[k] for k in ('user', 'item', 'rating')})
    with open(os.path.join(folder, 'meta.json')) as handle:
        meta = json.load(handle)
    return parts[0], parts[1], meta


def scores(truth, pred, scale):
    pred = np.clip(np.asarray(pred, dtype=np.float64), scale[0], scale[1])
    err = pred - np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean(err ** 2))), float(np.mean(np.abs(err)))
