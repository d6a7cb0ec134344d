// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// The on-chain directory of nodes and the root of trust for mediators.
/// Any address may register itself as solver, resource provider or job creator (open devnet). The mediator role
/// is different: a mediator's verdict moves other people's money, so only addresses the owner has approved can
/// hold it, and the Market asks `isMediator` before accepting a deal that names one.
contract Directory is Ownable {
    uint8 public constant ROLE_SOLVER = 1;
    uint8 public constant ROLE_RESOURCE_PROVIDER = 2;
    uint8 public constant ROLE_JOB_CREATOR = 4;
    uint8 public constant ROLE_MEDIATOR = 8;
    uint8 internal constant ALL_ROLES = 15;

    struct NodeRecord {
        uint8 roles;
        string peerId;
        string metadataCid;
    }

    mapping(address => NodeRecord) internal records;
    mapping(address => bool) public approvedMediator;
    /// Approved and registered with the mediator role. Kept as its own flag, although derivable, because the Market
    /// reads it for every mediator of every deal: one cold SLOAD instead of two.
    mapping(address => bool) public isMediator;
    address[] internal members;
    mapping(address => uint256) internal memberSlot; // index + 1; 0 = not a member

    event NodeRegistered(address indexed node, uint8 roles, string peerId, string metadataCid);
    event NodeUnregistered(address indexed node);
    event MediatorApproved(address indexed mediator);
    event MediatorRevoked(address indexed mediator);

    error UnknownRoles(uint8 roles);
    error NoRoles();
    error MediatorNotApproved(address node);
    error NotRegistered(address node);

    constructor(address owner_) Ownable(owner_) {}

    function register(uint8 roles, string calldata peerId, string calldata metadataCid) external {
        if (roles == 0) revert NoRoles();
        if (roles & ~ALL_ROLES != 0) revert UnknownRoles(roles);
        if (roles & ROLE_MEDIATOR != 0 && !approvedMediator[msg.sender]) revert MediatorNotApproved(msg.sender);
        records[msg.sender] = NodeRecord(roles, peerId, metadataCid);
        isMediator[msg.sender] = roles & ROLE_MEDIATOR != 0;
        if (memberSlot[msg.sender] == 0) {
            members.push(msg.sender);
            memberSlot[msg.sender] = members.length;
        }
        emit NodeRegistered(msg.sender, roles, peerId, metadataCid);
    }

    function unregister() external {
        _remove(msg.sender);
    }

    function approveMediator(address mediator) external onlyOwner {
        approvedMediator[mediator] = true;
        emit MediatorApproved(mediator);
    }

    /// Revocation removes the role at once; deals already agreed keep their mediator list (their terms were
    /// signed while it was trusted), new deals naming it are refused.
    function revokeMediator(address mediator) external onlyOwner {
        approvedMediator[mediator] = false;
        isMediator[mediator] = false;
        NodeRecord storage r = records[mediator];
        if (r.roles & ROLE_MEDIATOR != 0) {
            r.roles &= ~ROLE_MEDIATOR;
            if (r.roles == 0) _remove(mediator);
            else emit NodeRegistered(mediator, r.roles, r.peerId, r.metadataCid);
        }
        emit MediatorRevoked(mediator);
    }

    function hasRole(address node, uint8 role) external view returns (bool) {
        return records[node].roles & role == role && role != 0;
    }

    function nodeOf(address node) external view returns (NodeRecord memory) {
        return records[node];
    }

    /// Members holding any of the given roles. A view over all members: fine for the devnet's size, and nodes
    /// follow NodeRegistered events rather than calling this in a loop.
    function listByRole(uint8 roles) external view returns (address[] memory found) {
        uint256 n;
        found = new address[](members.length);
        for (uint256 i; i < members.length; ++i) {
            if (records[members[i]].roles & roles != 0) found[n++] = members[i];
        }
        assembly {
            mstore(found, n)
        }
    }

    function _remove(address node) internal {
        uint256 slot = memberSlot[node];
        if (slot == 0) revert NotRegistered(node);
        address last = members[members.length - 1];
        members[slot - 1] = last;
        memberSlot[last] = slot;
        members.pop();
        delete memberSlot[node];
        delete records[node];
        delete isMediator[node];
        emit NodeUnregistered(node);
    }
}
