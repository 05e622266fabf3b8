"""lmd_studio.gui"""
