"""Impersonation (kube-apiserver's ``WithImpersonation`` filter): ``Impersonate-User``,
``Impersonate-Group`` (repeatable), ``Impersonate-Uid`` and ``Impersonate-Extra-<key>`` headers.

Each part needs its own RBAC permission, verb ``impersonate``:

| header                     | resource          | group                   | name  |
|----------------------------|-------------------|-------------------------|-------|
| Impersonate-User: bob      | users             | ""                      | bob   |
| Impersonate-User: system:serviceaccount:ns:sa | serviceaccounts (namespace ns) | "" | sa |
| Impersonate-Group: devs    | groups            | ""                      | devs  |
| Impersonate-Uid: 42        | uids              | authentication.k8s.io   | 42    |
| Impersonate-Extra-Scopes: view | userextras/scopes | authentication.k8s.io | view  |

Groups, uid or extras without a user are refused (400: there is no user to attach them to).
The resulting user gets ``system:authenticated`` (``system:unauthenticated`` for
``system:anonymous``) and, for a service account, its two service-account groups -- as kube.
"""
from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Mapping

from kubelite.apiserver.request import UserInfo
from kubelite.machinery.errors import StatusError, qualified

if TYPE_CHECKING:
    from kubelite.apiserver.authz import Authorizer

USER, GROUP, UID, EXTRA = "impersonate-user", "impersonate-group", "impersonate-uid", "impersonate-extra-"
AUTHN_GROUP = "authentication.k8s.io"


def _items(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in headers.items()]


def requested(headers: Mapping[str, str]) -> bool:
    return any(k in (USER, GROUP, UID) or k.startswith(EXTRA) for k, _ in _items(headers))


def _forbidden(caller: UserInfo, resource: str, subresource: str, group: str, namespace: str, name: str) -> StatusError:
    full = resource + (f"/{subresource}" if subresource else "")
    scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return StatusError(403, "Forbidden",
                       f'{qualified(resource, group)} "{name}" is forbidden: User "{caller.name}" cannot impersonate '
                       f'resource "{full}" in API group "{group}"{scope}',
                       {"name": name, "kind": resource, **({"group": group} if group else {})})


async def impersonate(authorizer: "Authorizer", caller: UserInfo, headers: Mapping[str, str]) -> UserInfo:
    from kubelite.apiserver.authz import Attributes

    items = _items(headers)
    users = [v for k, v in items if k == USER]
    groups = [v for k, v in items if k == GROUP]
    uids = [v for k, v in items if k == UID]
    extra: dict[str, list[str]] = {}
    for k, v in items:
        if k.startswith(EXTRA):
            extra.setdefault(urllib.parse.unquote(k[len(EXTRA):]), []).append(v)
    name = users[0] if users else ""
    if not name:
        raise StatusError(400, "BadRequest", "requested impersonation of groups, uid or user extra "
                                             "without impersonating a user")
    sa = name.split(":") if name.startswith("system:serviceaccount:") else None
    checks: list[tuple[str, str, str, str, str]] = []  # resource, subresource, group, namespace, name
    implied: tuple[str, ...] = ()
    if sa and len(sa) == 4:
        checks.append(("serviceaccounts", "", "", sa[2], sa[3]))
        implied = ("system:serviceaccounts", f"system:serviceaccounts:{sa[2]}")
    else:
        checks.append(("users", "", "", "", name))
    checks += [("groups", "", "", "", g) for g in groups]
    checks += [("uids", "", AUTHN_GROUP, "", u) for u in uids]
    checks += [("userextras", key, AUTHN_GROUP, "", v) for key, values in extra.items() for v in values]
    for resource, sub, group, ns, target in checks:
        allowed, _ = await authorizer.authorize(Attributes(caller, "impersonate", group, resource, sub, ns, target))
        if not allowed:
            raise _forbidden(caller, resource, sub, group, ns, target)
    marker = "system:unauthenticated" if name == "system:anonymous" else "system:authenticated"
    all_groups = tuple(dict.fromkeys((*groups, *implied, marker)))
    return UserInfo(name, all_groups, uids[0] if uids else "", {k: tuple(v) for k, v in extra.items()})
