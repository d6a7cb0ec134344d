// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// The on-chain directory of nodes and the root of trust for mediators and job bridges.
/// Any address may register itself as solver, resource provider or job creator (open devnet). Two roles are
/// different, because holding them moves other people's money: a mediator's verdict, and a bridge's completion of
/// a contract's job (it hands the client a result and is paid the client's payment). Only addresses the owner has
/// approved can hold them; the Market asks `isMediator` before accepting a deal that names one, the JobManager asks
/// `isBridge` before letting anyone pick up, complete or fail a job, and draws job-dispute mediators from
/// `mediatorAt`.
contract Directory is Ownable {
    uint8 public constant ROLE_SOLVER = 1;
    uint8 public constant ROLE_RESOURCE_PROVIDER = 2;
    uint8 public constant ROLE_JOB_CREATOR = 4;
    uint8 public constant ROLE_MEDIATOR = 8;
    uint8 public constant ROLE_BRIDGE = 16;
    uint8 internal constant ALL_ROLES = 31;

    struct NodeRecord {
        uint8 roles;
        string peerId;
        string metadataCid;
    }

    mapping(address => NodeRecord) internal records;
    mapping(address => bool) public approvedMediator;
    mapping(address => bool) public approvedBridge;
    /// Approved and registered with the mediator role. Kept as its own flag, although derivable, because the Market
    /// reads it for every mediator of every deal: one cold SLOAD instead of two.
    mapping(address => bool) public isMediator;
    /// Approved and registered with the bridge role (same reasoning: the JobManager reads it on every bridge call).
    mapping(address => bool) public isBridge;
    address[] internal members;
    mapping(address => uint256) internal memberSlot; // index + 1; 0 = not a member
    /// Every address with isMediator set, so a mediator can be drawn without walking all members.
    address[] internal mediatorList;
    mapping(address => uint256) internal mediatorSlot; // index + 1

    event NodeRegistered(address indexed node, uint8 roles, string peerId, string metadataCid);
    event NodeUnregistered(address indexed node);
    event MediatorApproved(address indexed mediator);
    event MediatorRevoked(address indexed mediator);
    event BridgeApproved(address indexed bridge);
    event BridgeRevoked(address indexed bridge);

    error UnknownRoles(uint8 roles);
    error NoRoles();
    error MediatorNotApproved(address node);
    error BridgeNotApproved(address node);
    error NotRegistered(address node);

    constructor(address owner_) Ownable(owner_) {}

    function register(uint8 roles, string calldata peerId, string calldata metadataCid) external {
        if (roles == 0) revert NoRoles();
        if (roles & ~ALL_ROLES != 0) revert UnknownRoles(roles);
        if (roles & ROLE_MEDIATOR != 0 && !approvedMediator[msg.sender]) revert MediatorNotApproved(msg.sender);
        if (roles & ROLE_BRIDGE != 0 && !approvedBridge[msg.sender]) revert BridgeNotApproved(msg.sender);
        records[msg.sender] = NodeRecord(roles, peerId, metadataCid);
        _setMediator(msg.sender, roles & ROLE_MEDIATOR != 0);
        isBridge[msg.sender] = roles & ROLE_BRIDGE != 0;
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
        _setMediator(mediator, false);
        _dropRole(mediator, ROLE_MEDIATOR);
        emit MediatorRevoked(mediator);
    }

    function approveBridge(address bridge) external onlyOwner {
        approvedBridge[bridge] = true;
        emit BridgeApproved(bridge);
    }

    /// A revoked bridge can no longer pick up, complete or fail jobs; jobs it already delivered stay disputable
    /// and its bond stays slashable until they are released.
    function revokeBridge(address bridge) external onlyOwner {
        approvedBridge[bridge] = false;
        isBridge[bridge] = false;
        _dropRole(bridge, ROLE_BRIDGE);
        emit BridgeRevoked(bridge);
    }

    function hasRole(address node, uint8 role) external view returns (bool) {
        return records[node].roles & role == role && role != 0;
    }

    function nodeOf(address node) external view returns (NodeRecord memory) {
        return records[node];
    }

    function mediatorCount() external view returns (uint256) {
        return mediatorList.length;
    }

    function mediatorAt(uint256 index) external view returns (address) {
        return mediatorList[index];
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

    function _dropRole(address node, uint8 role) internal {
        NodeRecord storage r = records[node];
        if (r.roles & role != 0) {
            r.roles &= ~role;
            if (r.roles == 0) _remove(node);
            else emit NodeRegistered(node, r.roles, r.peerId, r.metadataCid);
        }
    }

    function _setMediator(address node, bool on) internal {
        if (isMediator[node] == on) return;
        isMediator[node] = on;
        if (on) {
            mediatorList.push(node);
            mediatorSlot[node] = mediatorList.length;
        } else {
            uint256 slot = mediatorSlot[node];
            address last = mediatorList[mediatorList.length - 1];
            mediatorList[slot - 1] = last;
            mediatorSlot[last] = slot;
            mediatorList.pop();
            delete mediatorSlot[node];
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
        _setMediator(node, false);
        delete isBridge[node];
        emit NodeUnregistered(node);
    }
}
