"""Reaction kinetics: conversion curves, their fits, t90 forecasts."""
